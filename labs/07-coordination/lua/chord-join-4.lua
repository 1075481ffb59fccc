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

-- TODO(07.1): the join itself, in this one script, so no other join and no crash can come in between:
--   1. a chord already decided (its `state` is set: the callback went, or a member failed) changes no more: 4;
--   2. a member that failed for good (ARGV[2] is 'failed') fails the chord with fail(ARGV[3]): 3; unless it
--      was counted before as a success: then nothing changes, 0;
--   3. count this member once, by its index, with its result: a member delivered again counts for nothing (0);
--   4. not the last yet: 1. The last: put every result in member order into a list, build the message with
--      callback_message(results) (nil: too big, the chord failed: 5), push it onto the queue, mark the chord
--      decided ('fired'), drop the results and return 2.
return redis.error_reply('TODO(07.1): chord-join-4.lua: no member joins its chord yet, so no callback ever runs: count each member once however often it is delivered, and enqueue the callback, with every result in member order, in the same step that counts the last one')
