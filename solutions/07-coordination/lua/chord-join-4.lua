--[[
  Joins one member of a chord: counts it once, keeps its result, and when it is the last of the n members to
  succeed, enqueues the callback, with every result in member order, in this same script. Run by the worker that
  ran the member, before that member's ack.

  Why one script: members finish on many workers, at the same instant or twice (at least once: a member whose
  worker died is run again), and a worker can die between any two of its commands. Redis runs a script whole, with
  nothing in between, so "counted", "was it the last?" and "callback enqueued" are one step: two members finishing
  together are counted one after the other and only the second sees n; no worker can die between the last count and
  the enqueue, leaving a chord complete and its callback never sent.

  Why before the ack: a crash between this join and the ack leaves the member unacked, so it is delivered again,
  runs again and joins again, which changes nothing (it is counted by its index, once). Joined after the ack, a
  crash in between would lose the join for good: an acked member never comes back.

  KEYS[1] chord     hash: n (how many members), head and tail (the callback's message around its results),
                    failHead and failTail (the callback's FAILURE record around its error), state once decided
  KEYS[2] results   hash: member index -> that member's result (JSON); one field per member, so HLEN counts
                    distinct members
  KEYS[3] waiting   the queue's waiting list
  KEYS[4] callback  the callback's result key

  ARGV[1] this member's index, 0 to n-1
  ARGV[2] 'ok', or 'failed' (the member failed for good: no retry left)
  ARGV[3] ok: the member's result (JSON); failed: the callback's error, { name, message } (JSON)
  ARGV[4] TTL of the keys written (s)
  ARGV[5] the largest message a worker takes (bytes)

  Returns  1 counted, members still to come
           2 counted, the last: the callback is enqueued
           0 counted before (a redelivery): nothing changed
           3 this member's failure fails the chord: the callback never runs, its result says why
           4 the chord was decided before (its callback enqueued, or it failed): nothing changed
           5 the callback's message would be too big with these results: the chord fails
          -1 no such chord (never made, or expired)
]]
local chord = redis.call('HMGET', KEYS[1], 'n', 'state')
local n = tonumber(chord[1])
if not n then
  return -1
end
local index = tonumber(ARGV[1])
if not index or index < 0 or index >= n or index % 1 ~= 0 then
  return redis.error_reply('chord member index ' .. ARGV[1] .. ' is not one of 0..' .. (n - 1))
end
local ttl = ARGV[4]

-- Fails the chord for good: the callback never runs, and its result (KEYS[4]) says why. The results go.
local function fail(error_json)
  local record = redis.call('HMGET', KEYS[1], 'failHead', 'failTail')
  redis.call('HSET', KEYS[1], 'state', 'failed')
  redis.call('SET', KEYS[4], record[1] .. error_json .. record[2], 'EX', ttl)
  redis.call('DEL', KEYS[2])
end

-- The callback's message with `results` (a Lua list of JSON texts, in member order) spliced in where the producer
-- left room; nil when that would be too big for a worker to take: then the chord has failed, saying so.
local function callback_message(results)
  local halves = redis.call('HMGET', KEYS[1], 'head', 'tail')
  local message = halves[1] .. '[' .. table.concat(results, ',') .. ']' .. halves[2]
  if #message > tonumber(ARGV[5]) then
    fail('{"name":"ChordFailed","message":"the callback\'s message would be ' .. #message .. ' bytes with its ' ..
      n .. ' results, over the ' .. ARGV[5] .. '-byte limit: the callback never runs"}')
    return nil
  end
  return message
end

-- (07.1) Decided once, for good: the state is the once-key. It lets nothing in after the callback went (a member
-- delivered again after the results below were dropped would count as new) or after a member failed.
if chord[2] then
  return 4
end
-- (07.1) A member that failed for good fails the chord, unless it succeeded before (its worker died after the
-- join, and its second run failed): a member counted stays counted.
if ARGV[2] == 'failed' then
  if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
    return 0
  end
  fail(ARGV[3])
  return 3
end
-- (07.1) Count distinct members, not deliveries: HSETNX sets the field only if this member was not counted yet,
-- so a member run twice (redelivered after a kill -9) counts once, and an INCR-style counter cannot double-fire.
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3]) == 0 then
  return 0
end
redis.call('EXPIRE', KEYS[2], ttl)
-- (07.1) "Was this the last?" in the same script as the count: of two members finishing at one instant, Redis runs
-- one join whole, then the other, and only the second sees n.
if redis.call('HLEN', KEYS[2]) < n then
  return 1
end
-- (07.1) The results in member order, whichever finished first: a field's name is its member's index.
local results = {}
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  results[tonumber(all[i]) + 1] = all[i + 1]
end
local message = callback_message(results)
if not message then
  return 5
end
-- (07.1) Enqueued in the same step that saw the last member, and marked decided: no worker can die in between.
redis.call('LPUSH', KEYS[3], message)
redis.call('HSET', KEYS[1], 'state', 'fired')
-- The callback's message holds the results now.
redis.call('DEL', KEYS[2])
return 2
