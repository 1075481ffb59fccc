import type { Claim } from '../claims.ts';

/** Lab 00's README, line by line: each guarantee, the checks that fail when it breaks, the variants that prove it. */
const claims: Claim[] = [
  {
    todo: '00.1',
    checks: /^00\.1 /,
    variants: ['lifo-push', 'push-reversed', 'push-not-awaited', 'push-fire-and-forget-each'],
  },
  {
    quote: 'workers take from the right. First in, first out',
    checks: /^00\.1 puts messages|^00\.2 takes messages in the order/,
    variants: ['lifo-push', 'push-reversed', 'reserve-newest-first'],
  },
  {
    quote: '`push` resolves once the messages are in Redis',
    checks: /^00\.1 push resolves/,
    variants: ['push-not-awaited', 'push-fire-and-forget-each'],
  },
  {
    todo: '00.2',
    checks: /^00\.2 /,
    variants: [
      'pop-then-push',
      'peek-then-move',
      'poll-lmove',
      'poll-rpoplpush-slow',
      'blocks-shared-connection',
      'block-timeout-in-ms',
      'reserve-newest-first',
      'reserve-takes-one-more',
      'no-lease',
      'lease-only-first',
      'lease-without-visibility',
    ],
  },
  {
    quote: '`BLMOVE` moves a message from `waiting` to `active` in one atomic step',
    checks: /^00\.2 moves atomically/,
    variants: ['pop-then-push', 'peek-then-move'],
  },
  {
    quote: 'blocks while the queue is empty (inside Redis, on its own connection: no polling)',
    checks: /^00\.2 blocks in Redis|^00\.2 waits up to blockMs|^00\.2 wakes up/,
    variants: ['poll-lmove', 'poll-rpoplpush-slow', 'blocks-shared-connection', 'block-timeout-in-ms'],
  },
  {
    quote: 'a **lease** for each message it took (at most `max`): a deadline in a sorted set',
    checks: /^00\.2 moves a message|^00\.2 takes at most/,
    variants: ['no-lease', 'lease-only-first', 'lease-without-visibility', 'reserve-takes-one-more'],
  },
  {
    quote: 'never hands one message to two workers',
    checks: /^00\.2 never hands one message|^00\.2 moves atomically/,
    variants: ['peek-then-move', 'pop-then-push'],
  },
  {
    quote: 'BLMOVE closes that window: the message is always in Redis, in one list or the other',
    checks: /^00\.2 moves atomically|^00\.2 moves a message/,
    variants: ['pop-then-push', 'peek-then-move'],
  },
  {
    todo: '00.3',
    checks: /^00\.3 /,
    variants: [
      'ack-counts-unheld',
      'ack-stores-unheld',
      'ack-no-expiry',
      'ack-ttl-in-ms',
      'ack-keeps-lease',
      'ack-clears-all-leases',
      'ack-counts-all-as-success',
      'ack-forgets-return',
      'ack-stores-envelope',
      'ack-pops-any',
    ],
  },
  {
    quote: 'stores its result (kept a day, then it expires',
    checks: /^00\.3 keeps a result a day/,
    variants: ['ack-no-expiry', 'ack-ttl-in-ms'],
  },
  {
    quote: 'An ack for a message this worker no longer holds changes nothing',
    checks: /^00\.3 an ack for a message not held/,
    variants: ['ack-counts-unheld', 'ack-stores-unheld'],
  },
  {
    quote: 'an ack that runs twice finds nothing held the second time and changes nothing',
    checks: /^00\.3 an ack for a message not held/,
    variants: ['ack-counts-unheld', 'ack-stores-unheld'],
  },
  {
    quote: 'removes the message from `active`',
    checks: /^00\.3 settles a held|^00\.3 settles only the message it names/,
    variants: ['ack-keeps-lease', 'ack-clears-all-leases', 'ack-forgets-return', 'ack-pops-any'],
  },
  {
    quote: 'In `ack-4.lua`, bump the counter even when `LREM` returned 0',
    checks: /^00\.3 an ack for a message not held/,
    variants: ['ack-counts-unheld'],
  },
  {
    todo: '00.4',
    checks: /^00\.4 /,
    variants: [
      'recover-requeues-acked',
      'recover-counts-stale',
      'recover-ignores-deadline',
      'recover-keeps-lease',
      'recover-copies',
      'recover-forgets-redelivered',
      'recover-to-the-back',
      'recover-only-first',
      'recover-waits-twice',
    ],
  },
  {
    quote: 'A dead one stops, so its leases run out, and `recover()` gives its messages back to `waiting`',
    checks: /^00\.4 gives back a message|^00 a worker on your broker/,
    variants: ['recover-only-first', 'recover-copies', 'recover-keeps-lease', 'recover-waits-twice'],
  },
  {
    quote: 'on the side workers take from next',
    checks: /^00\.4 gives back to the side/,
    variants: ['recover-to-the-back'],
  },
  {
    quote: 'a live worker keeps renewing its leases',
    checks: /^00\.4 leaves a message with a live lease/,
    variants: ['recover-ignores-deadline'],
  },
  {
    quote: 'comes back with `redelivered` counted',
    checks: /^00\.4 gives back a message/,
    variants: ['recover-forgets-redelivered'],
  },
  {
    quote: 'Delivery is **at least once**: a message leaves `active` only by its ack',
    checks:
      /^00\.4 gives back only what is still in flight|^00\.2 moves atomically|^00 a worker on your broker/,
    variants: ['recover-requeues-acked', 'recover-counts-stale', 'pop-then-push'],
  },
];

export default claims;
