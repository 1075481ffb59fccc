--[[
  A rate limit shared by every worker on the queue: the starts of one task are spaced one interval apart (a
  token bucket that holds one token, as Celery's does), counted here in Redis, by Redis's clock.

  A worker asks before it runs the task. Now free: start (0). Else the script books the next free start for
  this message and says how far off it is: the worker puts the message back in the delayed set for that long,
  unrun, and frees its slot. When the message comes back, the same script finds its booking due and says 0.
  Each message waits once, in Redis, for a start nobody else can take: no polling, no slot held meanwhile.

  KEYS[1] next     the earliest start not booked yet (ms, Redis's clock)
  KEYS[2] booked   hash: message id -> the start booked for it (ms)

  ARGV[1] the interval between two starts (ms, may have decimals: 100 for '10/s', 333.33 for '3/s')
  ARGV[2] the message's id

  Returns 0 to start now, or n > 0: its start is booked n ms from now.

  Why one script: reading `next` and moving it on must be one step, or two workers read the same `next` and
  both start at once. Why TIME: the workers' clocks may be apart by more than an interval; Redis has one.
]]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local interval = tonumber(ARGV[1])

-- (07.3) A message that comes back finds its booking: it starts once that is due, never earlier, and never books
-- a second start (it would wait behind everything booked since, again and again).
local booked = tonumber(redis.call('HGET', KEYS[2], ARGV[2]))
if booked then
  if booked > now then
    -- Back before its start (a clock ahead of Redis's, a promote run early): wait again for the same one.
    return math.ceil(booked - now)
  end
  redis.call('HDEL', KEYS[2], ARGV[2])
  return 0
end

-- (07.3) take the earliest free start and move `next` one interval past it, in one step: no two workers can
-- get the same start, and a start nobody took while idle is not saved up for a burst (max with now).
local start = math.max(tonumber(redis.call('GET', KEYS[1])) or 0, now)
local after = start + interval
redis.call('SET', KEYS[1], string.format('%.3f', after), 'PX', math.ceil(after - now))
if start <= now then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[2], string.format('%.3f', start))
-- Kept an hour past the last booking: a message that comes back later than that books a new start.
redis.call('PEXPIRE', KEYS[2], math.ceil(start - now) + 3600000)
return math.ceil(start - now)
