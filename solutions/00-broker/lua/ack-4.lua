--[[
  Acknowledges a message: it leaves the in-flight set, its result is stored and counted, all in one atomic step.
  A crash can come before it or after it, never in the middle: no result without an ack, no ack without a result.

  KEYS[1] active   list of in-flight envelopes
  KEYS[2] leases   zset in-flight envelope -> lease deadline (ms)
  KEYS[3] stats    hash of counters
  KEYS[4] result   this task's result key

  ARGV[1] the envelope, exactly as reserved
  ARGV[2] the result record (JSON)
  ARGV[3] result TTL (s)
  ARGV[4] the counter to bump: 'succeeded' or 'failed'

  Returns 1 when the message was settled here, 0 when it was not held any more: its lease ran out and recover()
  gave it back, so another run will settle it. Nothing is stored or counted twice.
]]
-- (00.3) remove, store and count in one script, so no crash can split them.
local held = redis.call('LREM', KEYS[1], 1, ARGV[1])
if held == 0 then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SET', KEYS[4], ARGV[2], 'EX', ARGV[3])
redis.call('HINCRBY', KEYS[3], ARGV[4], 1)
return 1
