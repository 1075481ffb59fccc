--[[
  Enqueues one tick of a beat's schedule, unless a beat already did. Several beats may run, for availability:
  each one tries every tick, and only the first try of a tick reaches the queue. No beat is the leader, so none
  has to be elected, and killing one loses no tick while another runs.

  KEYS[1] guard    this tick's key, mq:{queue}:beat:<entry>:<tick's time in ms>
  KEYS[2] waiting  list of envelopes

  ARGV[1] the envelope to enqueue
  ARGV[2] who tries (host:pid), kept in the guard: which beat enqueued the tick
  ARGV[3] until when the guard is kept (epoch ms): the tick's time plus longer than any beat still tries it

  Returns 1 when this call enqueued the tick, 0 when a beat already had, -1 when the try came after ARGV[3] (by
  Redis's clock): the guard may be gone by then, so enqueuing it could enqueue the tick a second time.

  Why one script: the check (is the guard there?), the claim (set it) and the push must be one step. Checked in
  one command and set in the next, two beats that tick at the same instant both find no guard and both push;
  claimed in one command and pushed in another, a beat killed in between leaves a tick claimed and never sent.
]]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local keepUntil = tonumber(ARGV[3])
if now >= keepUntil then
  return -1
end
-- TODO(07.2): claim this tick's guard (KEYS[1]) for this beat (ARGV[2]) only if no beat has claimed it yet, kept
-- until ARGV[3] (it expires by itself then); if another beat had it, return 0 and push nothing. Else push the
-- envelope (ARGV[1]) onto the waiting list (KEYS[2]), on the side producers push on, and return 1.
return redis.error_reply('TODO(07.2): beat-tick-2.lua: no tick is enqueued yet: let only the first beat to try a tick claim it, and push its message in that same step')
