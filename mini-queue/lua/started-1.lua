--[[
  Records that a task started (STARTED), unless the task has finished already. A worker writes STARTED a turn of its
  event loop after the start; a task that blocks that loop past its lease writes it late, when another worker may
  have run the message again and stored its SUCCESS or FAILURE: that final record must stay, or the task reads as
  STARTED for good and its result is lost. A RETRY record is replaced: the next attempt has started.

  KEYS[1] the task's result key

  ARGV[1] the STARTED record (JSON)
  ARGV[2] its TTL (s)

  Returns 1 when written, 0 when the task had finished already.
]]
local current = redis.call('GET', KEYS[1])
-- A record's state comes before its result (the worker builds it so), so no result can pass for a state here.
if current and (string.find(current, '"state":"SUCCESS"', 1, true) or string.find(current, '"state":"FAILURE"', 1, true)) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
