--[[
  Acknowledges a message: it leaves the in-flight set, its result is stored and counted, all in one atomic step.
  A crash can come before it or after it, never in the middle: no result without an ack, no ack without a result.

  KEYS[1] active   list of in-flight envelopes
  KEYS[2] leases   zset in-flight envelope -> lease deadline (ms)
  KEYS[3] stats    hash of counters
  KEYS[4] result   this task's result key
  KEYS[5] waiting  list of envelopes

  ARGV[1] the envelope, exactly as reserved
  ARGV[2] the result record (JSON)
  ARGV[3] result TTL (s)
  ARGV[4] the counter to bump: 'succeeded' or 'failed'

  Returns 1 when the message was settled here, 0 when it was not held any more (another worker runs it now and
  will settle it).
]]
-- (00.3) remove, store and count in one script, so no crash can split them.
local held = redis.call('LREM', KEYS[1], 1, ARGV[1])
if held == 0 then
  -- A late ack: our lease ran out and recover() gave the message back. If it still waits, take it out: the work
  -- is done and must not run (or be counted) twice.
  held = redis.call('LREM', KEYS[5], -1, ARGV[1])
end
if held == 0 then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SET', KEYS[4], ARGV[2], 'EX', ARGV[3])
redis.call('HINCRBY', KEYS[3], ARGV[4], 1)
return 1
