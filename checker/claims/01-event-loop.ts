import type { Claim } from '../claims.ts';

/** Lab 01's README, line by line: each guarantee, the checks that fail when it breaks, the variants that prove it. */
const claims: Claim[] = [
  {
    todo: '01.1',
    checks: /^01\.1 /,
    variants: ['one-at-a-time', 'exceeds-c', 'check-then-await', 'frees-and-hands-over'],
  },
  {
    quote: 'a call takes a slot if fewer than C run; otherwise it waits in a FIFO inside the pool',
    checks: /^01\.1 never more than C|^01\.1 runs up to C|^01\.2 waiting calls start first come/,
    variants: ['exceeds-c', 'one-at-a-time', 'lifo-unshift'],
  },
  {
    quote: 'Checking and taking happen in one synchronous step',
    checks: /^01\.1 never more than C/,
    variants: ['check-then-await'],
  },
  {
    quote: 'In `acquire()`, write `running <= concurrency`',
    checks: /^01\.1 never more than C/,
    variants: ['exceeds-c'],
  },
  {
    todo: '01.2',
    checks: /^01\.2 /,
    variants: [
      'lifo-waiting',
      'lifo-unshift',
      'release-never-wakes',
      'release-leaks-slot',
      'acquire-polls',
      'slot-kept-on-failure',
      'acquire-counts-twice',
    ],
  },
  {
    quote: 'a finished call hands its slot straight to the oldest waiting call, or frees it',
    checks:
      /^01\.2 a waiting call starts as soon|^01\.2 a freed slot|^01\.2 waiting calls|^01\.1 never more than C/,
    variants: [
      'acquire-polls',
      'release-leaks-slot',
      'release-never-wakes',
      'frees-and-hands-over',
      'acquire-counts-twice',
    ],
  },
  {
    quote: 'First come, first served: under load the newest call must not overtake one that waited longer',
    checks: /^01\.2 waiting calls start first come/,
    variants: ['lifo-waiting', 'lifo-unshift'],
  },
  {
    quote: 'In `release()`, use `waiting.pop()` instead of `shift()`',
    checks: /^01\.2 waiting calls start first come/,
    variants: ['lifo-waiting'],
  },
  {
    quote: "one task's exception fails that task alone",
    checks: /^01\.2 one task’s exception/,
    variants: ['slot-kept-on-failure'],
  },
  {
    todo: '01.3',
    checks: /^01\.3 /,
    variants: [
      'close-at-once',
      'close-fixed-wait',
      'close-waits-first',
      'close-polls-line',
      'close-timer-never-cleared',
      'close-hangs-when-idle',
    ],
  },
  {
    quote: 'a warm shutdown waits for everything it was given, running and waiting: not a fixed time',
    checks: /^01\.3 close waits for the running and the waiting/,
    variants: ['close-at-once', 'close-fixed-wait', 'close-waits-first', 'close-polls-line'],
  },
  {
    quote: 'it leaves no timer behind, so a worker exits as soon as its last task is done',
    checks: /^01\.3 close leaves no timer|^01\.3 close on an idle pool/,
    variants: ['close-timer-never-cleared', 'close-hangs-when-idle'],
  },
  {
    quote: 'Three tasks waiting on sockets at once take the time of one',
    checks: /^01\.1 runs up to C|^01 I\/O tasks wait side by side/,
    variants: ['one-at-a-time'],
  },
  {
    quote: 'The check counts tasks in flight from the tasks',
    checks: /^01\.1 never more than C|^01\.1 runs up to C/,
    variants: ['exceeds-c', 'one-at-a-time'],
  },
];

export default claims;
