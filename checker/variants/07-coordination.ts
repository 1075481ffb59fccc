import type { Variant } from '../variants.ts';

const lab = '07-coordination';
const JOIN = 'lua/chord-join-4.lua';
const BEAT = 'lua/beat-tick-2.lua';
const RATE = 'lua/rate-limit-2.lua';

const COUNT_AND_LAST = `if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3]) == 0 then
  return 0
end
redis.call('EXPIRE', KEYS[2], ttl)
-- (07.1) "Was this the last?" in the same script as the count: of two members finishing at one instant, Redis runs
-- one join whole, then the other, and only the second sees n.
if redis.call('HLEN', KEYS[2]) < n then
  return 1
end`;
const FAILED_BRANCH = `if ARGV[2] == 'failed' then
  if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
    return 0
  end
  fail(ARGV[3])
  return 3
end`;
const CLAIM_AND_PUSH = `if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', keepUntil - now) then
  return 0
end
redis.call('LPUSH', KEYS[2], ARGV[1])
return 1`;
const TAKE_START = `local start = math.max(tonumber(redis.call('GET', KEYS[1])) or 0, now)
local after = start + interval
redis.call('SET', KEYS[1], string.format('%.3f', after), 'PX', math.ceil(after - now))`;
const EARLY_RETURN = `  if booked > now then
    -- Back before its start (a clock ahead of Redis's, a promote run early): wait again for the same one.
    return math.ceil(booked - now)
  end
`;

/**
 * Wrong joins, guards and limiters, as attendees write them (and as Celery, beat and its schedulers have shipped
 * them): each must fail `npm run check -- 07` with a check that names its flaw. Only lab 07's Lua changes: the
 * mistakes that need TypeScript (the count in a script and the enqueue after it, count and enqueue as separate
 * commands, the join after the ack) are mini-queue's, and test/canvas.test.ts feeds them to the chassis.
 */
const variants: Variant[] = [
  // 07.1 the chord join
  {
    name: 'chord-incr-counter',
    lab,
    file: JOIN,
    find: COUNT_AND_LAST,
    replace: `redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ttl)
if redis.call('HINCRBY', KEYS[1], 'count', 1) < n then
  return 1
end`,
    description:
      "counts deliveries with INCR, as Celery's Redis backend does: a member delivered twice counts twice, and the callback fires before the last member",
    flaw: /a member delivered twice counted twice/,
    checks: '07.1 counts a member delivered twice',
  },
  {
    name: 'chord-no-once-key',
    lab,
    file: JOIN,
    find: 'if chord[2] then\n  return 4\nend\n',
    replace: '',
    description:
      'no once-key: after the callback went (and its results were dropped), members delivered again count as new, and fire it a second time',
    flaw: /once decided, a chord lets nothing in/,
    checks: '07.1 a member delivered again after the callback went',
  },
  {
    name: 'chord-last-check-before-count',
    lab,
    file: JOIN,
    find: COUNT_AND_LAST,
    replace: `local before = redis.call('HLEN', KEYS[2])
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3]) == 0 and before < n then
  return 0
end
redis.call('EXPIRE', KEYS[2], ttl)
if before < n then
  return 1
end`,
    description:
      'asks "was it the last?" before counting this member: the last join does not fire, only a later redelivery would',
    flaw: /no callback was in the queue/,
    checks: '07.1 the worker dies right after|07.1 members finishing at one instant',
  },
  {
    name: 'chord-results-in-finish-order',
    lab,
    file: JOIN,
    find: 'results[tonumber(all[i]) + 1] = all[i + 1]',
    replace: 'results[#results + 1] = all[i + 1]',
    description:
      'appends the results as the hash lists them (the order they finished in), not by member index',
    flaw: /in member order/,
    checks: '07.1 runs the callback once, when the last member joins',
  },
  {
    name: 'chord-ignores-failure',
    lab,
    file: JOIN,
    find: `${FAILED_BRANCH}\n`,
    replace: '',
    description:
      "counts a member that failed for good like a success: the callback runs with the member's error as a result",
    flaw: /a failure fails the chord/,
    checks: '07.1 a member that fails for good',
  },
  {
    name: 'chord-failure-uncounts-success',
    lab,
    file: JOIN,
    find: "  if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then\n    return 0\n  end\n",
    replace: '',
    description:
      'fails the chord on any failed run, even of a member counted as a success before (its worker died after the join, and its second run failed)',
    flaw: /succeeded and was counted/,
    checks: '07.1 a member that succeeded stays counted',
  },
  // 07.2 beat
  {
    name: 'beat-set-without-nx',
    lab,
    file: BEAT,
    find: "redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', keepUntil - now)",
    replace: "redis.call('SET', KEYS[1], ARGV[2], 'PX', keepUntil - now)",
    description:
      'sets the guard without NX (check-then-set without the check): every beat "claims" every tick and pushes it',
    flaw: /only the first try may claim the tick|enqueued more than once/,
    checks: '07.2 claims a tick|07.2 three beats',
  },
  {
    name: 'beat-push-then-claim',
    lab,
    file: BEAT,
    find: CLAIM_AND_PUSH,
    replace: `redis.call('LPUSH', KEYS[2], ARGV[1])
if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', keepUntil - now) then
  return 0
end
return 1`,
    description:
      'pushes the message first and claims the tick after: every beat that tries a tick enqueues it',
    flaw: /only the first try may claim the tick/,
    checks: '07.2 claims a tick',
  },
  {
    name: 'beat-guard-forever',
    lab,
    file: BEAT,
    find: "'NX', 'PX', keepUntil - now)",
    replace: "'NX')",
    description: 'a guard with no expiry: one key per tick, kept for ever',
    flaw: /expire by itself/,
    checks: '07.2 keeps the guard',
  },
  {
    name: 'beat-guard-one-second',
    lab,
    file: BEAT,
    find: "'PX', keepUntil - now)",
    replace: "'PX', 1000)",
    description:
      'a guard kept one second ("plenty"): a beat that wakes late and catches the tick up finds no guard and enqueues it again',
    flaw: /would find no guard and enqueue it a second time/,
    checks: '07.2 keeps the guard',
  },
  {
    name: 'beat-leader-lease',
    lab,
    file: BEAT,
    find: CLAIM_AND_PUSH,
    replace: `-- One leader per entry, by a lease it renews at each tick (RedBeat's way): only the leader enqueues.
local lease = string.match(KEYS[1], '^(.*):') .. ':leader'
if not redis.call('SET', lease, ARGV[2], 'NX', 'PX', 3000) and redis.call('GET', lease) ~= ARGV[2] then
  return 0
end
redis.call('PEXPIRE', lease, 3000)
redis.call('LPUSH', KEYS[2], ARGV[1])
return 1`,
    description:
      'a leader lease instead of a guard per tick: a leader killed with kill -9 loses every tick until its lease runs out',
    flaw: /not wait for the dead one/,
    checks: '07.2 a beat killed mid-run',
  },
  // 07.3 the rate limiter
  {
    name: 'rate-burst-of-ten',
    lab,
    file: RATE,
    find: TAKE_START,
    replace: `local start = math.max(tonumber(redis.call('GET', KEYS[1])) or 0, now - 9 * interval)
local after = start + interval
redis.call('SET', KEYS[1], string.format('%.3f', after), 'PX', math.ceil(after - now) + 10 * interval)`,
    description:
      'a token bucket that holds ten tokens: ten start at once after an idle spell, on any mix of workers',
    flaw: /one may start now, the next 100 ms later/,
    checks: '07.3 hands out one start per interval|07.3 saves up no burst',
  },
  {
    name: 'rate-saves-idle-starts',
    lab,
    file: RATE,
    find: TAKE_START,
    replace: `local start = tonumber(redis.call('GET', KEYS[1])) or now
local after = start + interval
redis.call('SET', KEYS[1], string.format('%.3f', after))`,
    description:
      'moves the next free start on from where it was, never from now: every start not taken while idle is saved up for a burst',
    flaw: /after 1\.1 s without a start/,
    checks: '07.3 saves up no burst',
  },
  {
    name: 'rate-bucket-per-message',
    lab,
    file: RATE,
    find: TAKE_START,
    replace: `local bucket = KEYS[1] .. ':' .. ARGV[2]
local start = math.max(tonumber(redis.call('GET', bucket)) or 0, now)
local after = start + interval
redis.call('SET', bucket, string.format('%.3f', after), 'PX', math.ceil(after - now))`,
    description:
      "keeps the next free start per caller (here per message) instead of per task: nobody shares it, Celery's per-worker rate_limit at its extreme",
    flaw: /these came early|one may start now, the next 100 ms later/,
    checks: "07.3 three workers share one '10/s'",
  },
  {
    name: 'rate-rebooks-on-return',
    lab,
    file: RATE,
    find: `local booked = tonumber(redis.call('HGET', KEYS[2], ARGV[2]))
if booked then
${EARLY_RETURN}  redis.call('HDEL', KEYS[2], ARGV[2])
  return 0
end
`,
    replace: '',
    description:
      'ignores its booking: a message that comes back at its start books a new one, behind everything booked since, again and again',
    flaw: /keeps its one booking|not book another/,
    checks: '07.3 a message that comes back',
  },
  {
    name: 'rate-starts-when-back-early',
    lab,
    file: RATE,
    find: EARLY_RETURN,
    replace: '',
    description: 'a message that comes back before its booked start starts at once',
    flaw: /came back before its start/,
    checks: '07.3 a message that comes back',
  },
  {
    name: 'rate-booking-never-used-up',
    lab,
    file: RATE,
    find: "  redis.call('HDEL', KEYS[2], ARGV[2])\n",
    replace: '',
    description:
      'keeps a booking after its start: the same message delivered again starts free, past the limit',
    flaw: /booking was used up/,
    checks: '07.3 a message that comes back',
  },
];

export default variants;
