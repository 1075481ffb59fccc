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
-- (00.4) expired leases back to waiting in one script: an ack lands wholly before it (LREM finds nothing to
-- give back) or wholly after it (the ack finds nothing held and changes nothing), never in between.
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, raw in ipairs(expired) do
  redis.call('ZREM', KEYS[2], raw)
  if redis.call('LREM', KEYS[1], 1, raw) == 1 then
    -- RPUSH: the side workers take from. It waited long enough already.
    redis.call('RPUSH', KEYS[3], redelivered(raw))
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
