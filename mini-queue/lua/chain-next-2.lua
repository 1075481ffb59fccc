--[[
  Enqueues a chain's next link, once: a link delivered twice (its worker died after this, before its ack) runs
  twice and calls this twice, and only the first call enqueues. Run before the link's ack, so a crash in between
  is repaired by the redelivery, and in one script, so no crash falls between the once-key and the push.

  KEYS[1] queued   the next link's once-key (mq:{q}:queued:<its id>)
  KEYS[2] waiting  the queue's waiting list

  ARGV[1] the next link's message
  ARGV[2] TTL of the once-key (s): as long as results are kept

  Returns 1 when the next link was enqueued here, 0 when it had been already.
]]
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  return 0
end
redis.call('LPUSH', KEYS[2], ARGV[1])
return 1
