--[[
  Puts a held message back in the delayed set, unrun, until its eta: a message found in waiting before it is due
  (pushed there by hand or by a producer that does not use the delayed set) waits like one enqueued with a
  countdown, and promote() brings it back when it is due.

  KEYS[1] active   list of in-flight envelopes
  KEYS[2] leases   zset in-flight envelope -> lease deadline (ms)
  KEYS[3] delayed  zset envelope -> due time (ms)

  ARGV[1] the envelope, exactly as reserved
  ARGV[2] its due time (ms)

  Returns 1, or 0 when it was no longer held (its lease ran out and another worker has it).
]]
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return 1
