--[[
  Stores a settled run's record (SUCCESS, FAILURE or RETRY) and counts it, once per task id and attempt.
  On RabbitMQ the record is written before the basic.ack, and the two cannot be one atomic step: a crash between
  them redelivers a message whose run is stored already. So the count is tied to the record, not to the ack: a
  second store of the same attempt (that redelivery, an ack that came after its channel died, the watchdog's
  verdict) overwrites the record and counts nothing.

  KEYS[1] result   this task's result key
  KEYS[2] stats    hash of counters

  ARGV[1] the record (JSON)
  ARGV[2] result TTL (s)
  ARGV[3] the counter to bump: 'succeeded', 'failed' or 'retried'
  ARGV[4] the record's attempt

  Returns 1 when counted here, 0 when this attempt was counted before.
]]
local current = redis.call('GET', KEYS[1])
local counted = false
if current then
  local ok, record = pcall(cjson.decode, current)
  if ok and type(record) == 'table' and tostring(record.attempt) == ARGV[4] then
    local state = record.state
    counted = state == 'SUCCESS' or state == 'FAILURE' or state == 'RETRY'
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if counted then
  return 0
end
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
return 1
