--[[
  Settles a failed run that will be tried again: the next attempt waits in the delayed set until it is due.

  KEYS[1] active   list of in-flight envelopes
  KEYS[2] leases   zset in-flight envelope -> lease deadline
  KEYS[3] delayed  zset envelope -> due time (ms)
  KEYS[4] stats    hash of counters
  KEYS[5] result   this task's result key

  ARGV[1] the envelope that ran (as reserved)
  ARGV[2] the next attempt's envelope
  ARGV[3] its due time (ms)
  ARGV[4] the RETRY record (JSON)
  ARGV[5] result TTL (s)

  Returns 1, or 0 when the envelope was no longer held (its lease ran out and another worker has it): then the
  other worker owns the retry decision and nothing is written, so a retry is never scheduled twice.
]]
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
redis.call('SET', KEYS[5], ARGV[4], 'EX', ARGV[5])
redis.call('HINCRBY', KEYS[4], 'retried', 1)
return 1
