--[[
  Gives back what dead workers held: every in-flight message whose lease ran out goes back to waiting.
  A live worker renews its leases while it runs a task, so only a dead (or frozen) worker's messages expire.

  KEYS[1] active   list of in-flight envelopes
  KEYS[2] leases   zset in-flight envelope -> lease deadline (ms)
  KEYS[3] waiting  list of envelopes

  ARGV[1] now (ms)
  ARGV[2] visibility timeout (ms)

  Returns how many messages went back to waiting, each marked with one more `redelivered`.
]]
-- Counts how often a message came back from a dead worker, so a task that keeps killing its worker ends in
-- FAILURE instead of looping forever (BullMQ's maxStalledCount). Our field is always the envelope's last one.
local function redelivered(raw)
  local n = string.match(raw, ',"redelivered":(%d+)}$')
  if n then
    return string.sub(raw, 1, -(#n + 2)) .. (tonumber(n) + 1) .. '}'
  end
  if #raw > 2 and string.sub(raw, 1, 1) == '{' and string.sub(raw, -1) == '}' then
    return string.sub(raw, 1, -2) .. ',"redelivered":1}'
  end
  return raw
end

local requeued = 0
-- TODO(00.4): for every member of KEYS[2] with a deadline <= ARGV[1] (ZRANGEBYSCORE ... LIMIT 0 1000): remove
-- the lease (ZREM); if LREM takes it out of active, RPUSH redelivered(raw) back to waiting and count it in
-- `requeued`.
do return redis.error_reply('TODO(00.4): recover-3.lua: what a dead worker had taken never comes back: each message whose lease ran out must go back to the queue, unless its ack came first') end

-- Don't change below this line.
-- A message in active without a lease: its worker died between BLMOVE and ZADD. NX gives it a lease now (a live
-- worker's own ZADD overwrites it), so the next call returns it if nobody renews it.
local deadline = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, raw in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  redis.call('ZADD', KEYS[2], 'NX', deadline, raw)
end
return requeued
