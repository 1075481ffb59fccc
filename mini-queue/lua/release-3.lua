--[[
  Cold shutdown: gives messages this worker holds back to the waiting list now, instead of after their lease runs
  out. Not a crash, so `redelivered` is not bumped.

  KEYS[1] active   list of in-flight envelopes
  KEYS[2] leases   zset in-flight envelope -> lease deadline (ms)
  KEYS[3] waiting  list of envelopes

  ARGV    the envelopes, exactly as reserved

  Returns how many were still held (a message acked or recovered meanwhile is left alone).
]]
local released = 0
for _, raw in ipairs(ARGV) do
  if redis.call('LREM', KEYS[1], 1, raw) == 1 then
    redis.call('ZREM', KEYS[2], raw)
    -- RPUSH: the side workers take from, so the interrupted task is the next to run.
    redis.call('RPUSH', KEYS[3], raw)
    released = released + 1
  end
end
return released
