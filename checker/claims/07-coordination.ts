import type { Claim } from '../claims.ts';

/** Lab 07's README, guarantee by guarantee: the checks that fail when it breaks, the variants that prove it. */
const claims: Claim[] = [
  {
    todo: '07.1',
    checks: /^07\.1 /,
    variants: [
      'chord-incr-counter',
      'chord-no-once-key',
      'chord-last-check-before-count',
      'chord-results-in-finish-order',
      'chord-ignores-failure',
      'chord-failure-uncounts-success',
    ],
  },
  {
    quote:
      'It counts each member once, by its index, however often it is delivered, and keeps its first result',
    checks: /^07\.1 counts a member delivered twice/,
    variants: ['chord-incr-counter'],
  },
  {
    quote:
      'The callback runs once, when the last member joins, with every result in member order, whichever member finished first',
    checks: /^07\.1 runs the callback once|^07\.1 members finishing at one instant/,
    variants: ['chord-results-in-finish-order', 'chord-last-check-before-count'],
  },
  {
    quote:
      'there is no moment where the chord is complete and the callback not yet enqueued, so the worker can die anywhere',
    checks: /^07\.1 the worker dies right after|^07\.1 a chord over 3 worker processes/,
    variants: ['chord-last-check-before-count'],
  },
  {
    quote:
      'Once decided, a chord lets nothing in: a member delivered again after the callback went changes nothing',
    checks: /^07\.1 a member delivered again after the callback went/,
    variants: ['chord-no-once-key'],
  },
  {
    quote:
      'A member that fails for good fails the chord: the callback never runs, and its result says which member',
    checks: /^07\.1 a member that fails for good/,
    variants: ['chord-ignores-failure'],
  },
  {
    quote: 'A member counted as a success stays counted when a second run of it fails',
    checks: /^07\.1 a member that succeeded stays counted/,
    variants: ['chord-failure-uncounts-success'],
  },
  {
    todo: '07.2',
    checks: /^07\.2 /,
    variants: [
      'beat-set-without-nx',
      'beat-push-then-claim',
      'beat-guard-forever',
      'beat-guard-one-second',
      'beat-leader-lease',
    ],
  },
  {
    quote: 'Each tick is enqueued once, whichever beats are alive',
    checks: /^07\.2 claims a tick|^07\.2 three beats/,
    variants: ['beat-set-without-nx', 'beat-push-then-claim'],
  },
  {
    quote:
      "the script claims the tick's guard with SET NX and pushes the message, in one step, so only the first try gets through",
    checks: /^07\.2 claims a tick/,
    variants: ['beat-push-then-claim', 'beat-set-without-nx'],
  },
  {
    quote: 'killing a beat loses at most one tick: the others go on at once',
    checks: /^07\.2 a beat killed mid-run/,
    variants: ['beat-leader-lease'],
  },
  {
    quote: 'The guard lives until the last moment any beat still tries the tick, then expires',
    checks: /^07\.2 keeps the guard/,
    variants: ['beat-guard-forever', 'beat-guard-one-second'],
  },
  {
    todo: '07.3',
    checks: /^07\.3 /,
    variants: [
      'rate-burst-of-ten',
      'rate-saves-idle-starts',
      'rate-bucket-per-message',
      'rate-rebooks-on-return',
      'rate-starts-when-back-early',
      'rate-booking-never-used-up',
    ],
  },
  {
    quote:
      "Starts are spaced one interval apart (one every 100 ms at '10/s') by Redis's clock, shared by every worker on the queue",
    checks: /^07\.3 hands out one start per interval|^07\.3 three workers share/,
    variants: ['rate-bucket-per-message', 'rate-burst-of-ten'],
  },
  {
    quote: 'No burst after an idle spell: a start nobody took is not saved up',
    checks: /^07\.3 saves up no burst/,
    variants: ['rate-saves-idle-starts', 'rate-burst-of-ten'],
  },
  {
    quote:
      'A task over the limit is booked the next free start and waits in the delayed set, not in a slot, so an unlimited task runs meanwhile',
    checks: /^07\.3 three workers share/,
    variants: ['rate-bucket-per-message'],
  },
  {
    quote:
      'A message that comes back keeps its booking: early, it waits again for the same start; due, it starts, and its booking is used up',
    checks: /^07\.3 a message that comes back/,
    variants: ['rate-rebooks-on-return', 'rate-starts-when-back-early', 'rate-booking-never-used-up'],
  },
];

export default claims;
