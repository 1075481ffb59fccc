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

-- TODO(07.3): in this one script, by Redis's clock (`now`, ms):
--   1. this message (ARGV[2]) has a start booked in KEYS[2]: not due yet, return how far off it still is (ms,
--      rounded up); due, forget the booking and return 0;
--   2. else its start is the later of KEYS[1] (the earliest start not booked yet; none: now) and now; move KEYS[1]
--      one interval past it (let it expire once that is past). A start at or before now: return 0. Later: book it
--      for this message in KEYS[2] (kept an hour past it) and return how far off it is (ms, rounded up).
return redis.error_reply('TODO(07.3): rate-limit-2.lua: no start is handed out yet: a task may start now only if no other start of it is due within one interval; else book this message the next free start and say how far off it is')
