--[[
  Reserves up to ARGV[1] messages at once, without waiting: the oldest ones move from waiting to active and get
  their leases, all in one atomic step. A busy worker with many free slots pays one round trip for the lot
  instead of a BLMOVE per message and a ZADD after them. The same guarantee as lab 00's BLMOVE reserve, and one
  window fewer: a message is never in active without a lease, so there is no crash between the move and the lease.
  When waiting is empty this returns nothing and the worker waits in lab 00's blocking reserve.

  KEYS[1] waiting  list of envelopes (producers LPUSH on the left, the oldest is on the right)
  KEYS[2] active   list of in-flight envelopes
  KEYS[3] leases   zset in-flight envelope -> lease deadline (ms)

  ARGV[1] at most this many (the caller keeps it to a few hundred: Lua's unpack has a stack limit)
  ARGV[2] the lease deadline (ms)

  Returns the envelopes, oldest first.
]]
local max = tonumber(ARGV[1])
-- One RPOP with a count instead of an LMOVE per message: it takes the oldest `max` off the right end, oldest first,
-- the order BLMOVE RIGHT would have handed them out in. A missing (empty) list replies nil, false in Lua; a count of
-- 0 replies an empty array, which LPUSH would reject.
local oldest = redis.call('RPOP', KEYS[1], max)
if not oldest or #oldest == 0 then
  return {}
end
local leases = {}
for i, raw in ipairs(oldest) do
  leases[2 * i - 1] = ARGV[2]
  leases[2 * i] = raw
end
-- Pushed oldest first, so active ends up exactly as n LMOVE RIGHT LEFT calls would have left it.
redis.call('LPUSH', KEYS[2], unpack(oldest))
redis.call('ZADD', KEYS[3], unpack(leases))
return oldest
