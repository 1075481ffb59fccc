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
-- TODO(00.3): in this one script, so no crash can split them:
--   1. remove ARGV[1] from the active list (LREM count 1); if it was not there, return 0 (another worker has it);
--   2. remove its lease (ZREM), store the record under KEYS[4] with the TTL (SET ... EX), bump the counter
--      (HINCRBY KEYS[3] ARGV[4] 1) and return 1.
return redis.error_reply('TODO(00.3): ack-4.lua: no task is ever settled: the message must leave the in-flight list, and its result be stored and counted, all in one step; or nothing at all when another worker has it now')
