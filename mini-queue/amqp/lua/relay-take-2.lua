--[[
  Takes messages from the Redis waiting list to relay them to RabbitMQ. On the AMQP transport that list is an
  outbox: what Lua scripts enqueue in one atomic step with other writes (a chord's callback, a chain's next link,
  a beat's tick) and what people push with redis-cli lands there, and a worker moves it on.
  Each message taken is claimed until ARGV[1] + ARGV[2]: a relay that dies before its publish is confirmed leaves
  the claim to run out, and the next call takes the message again (at least once, like every delivery here).

  KEYS[1] waiting   list of envelopes (producers LPUSH, so the oldest is on the right)
  KEYS[2] relaying  zset envelope -> claim deadline (ms)

  ARGV[1] now (ms)
  ARGV[2] claim length (ms)
  ARGV[3] most messages to take

  Returns the messages taken, claims that ran out first.
]]
local now = tonumber(ARGV[1])
local deadline = now + tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local taken = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, max)
for _, raw in ipairs(taken) do
  redis.call('ZADD', KEYS[2], deadline, raw)
end
while #taken < max do
  local raw = redis.call('RPOP', KEYS[1])
  if not raw then
    break
  end
  redis.call('ZADD', KEYS[2], deadline, raw)
  taken[#taken + 1] = raw
end
return taken
