--[[
  Gives back what dead workers held: every in-flight message whose lease ran out goes back to waiting.
  A live worker renews its leases while it runs a task, so only a dead (or frozen) worker's messages expire.

  KEYS[1] active   list of in-flight envelopes
  KEYS[2] leases   zset in-flight envelope -> lease deadline (ms)
  KEYS[3] waiting  list of envelopes

  ARGV[1] now (ms)
  ARGV[2] visibility timeout (ms)

  Returns how many messages went back to waiting.
]]
local requeued = 0
-- (00.4) expired leases back to waiting in one script, so an ack racing with us either lands before
-- (LREM finds nothing, nothing is requeued) or after (it finds the message in waiting and takes it out).
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, raw in ipairs(expired) do
  redis.call('ZREM', KEYS[2], raw)
  if redis.call('LREM', KEYS[1], 1, raw) == 1 then
    -- RPUSH: the side workers take from. It waited long enough already.
    redis.call('RPUSH', KEYS[3], raw)
    requeued = requeued + 1
  end
end

-- Don't change below this line.
-- A message in active without a lease: its worker died between BLMOVE and ZADD. NX gives it a lease now (a live
-- worker's own ZADD overwrites it), so the next call returns it if nobody renews it.
local deadline = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, raw in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  redis.call('ZADD', KEYS[2], 'NX', deadline, raw)
end
return requeued
