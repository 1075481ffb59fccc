--[[
  Moves due messages from the delayed set to the waiting list (eta, countdown, retry backoff). Delayed work stays
  in Redis until it is due, never in a worker's memory: a delay longer than the visibility timeout cannot cause a
  second run (the trap of kombu#337).

  KEYS[1] delayed  zset envelope -> due time (ms)
  KEYS[2] waiting  list of envelopes

  ARGV[1] now (ms)
  ARGV[2] at most this many per call

  Returns how many were moved. RPUSH puts them on the side workers take from: they are overdue already.
]]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, raw in ipairs(due) do
  redis.call('ZREM', KEYS[1], raw)
  redis.call('RPUSH', KEYS[2], raw)
end
return #due
