--[[
  Buries an in-flight message by its exact bytes: one whose bytes are not UTF-8, which the worker could only read
  with U+FFFD in their place (see mini-queue/undecodable.ts). It leaves active, loses its leases and enters the
  dead-letter list in one step, and only if it was still held: a message is buried once.

  KEYS[1] active   list of in-flight envelopes
  KEYS[2] leases   zset in-flight envelope -> lease deadline (ms)
  KEYS[3] dead     list of dead letters

  ARGV[1] the message's exact bytes
  ARGV[2] the message as the worker read it (U+FFFD for the bad bytes): a broker that leased what it read left a
          lease under this name
  ARGV[3] the dead letter (JSON)

  Returns 1 when buried here, 0 when it was no longer held.
]]
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
-- The lease under the read name belongs to nobody else, unless a message with exactly those bytes is in flight.
if not redis.call('LPOS', KEYS[1], ARGV[2]) then
  redis.call('ZREM', KEYS[2], ARGV[2])
end
redis.call('LPUSH', KEYS[3], ARGV[3])
return 1
