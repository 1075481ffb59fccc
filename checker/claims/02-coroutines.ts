import type { Claim } from '../claims.ts';

/** Lab 02's README, line by line: each guarantee, the checks that fail when it breaks, the variants that prove it. */
const claims: Claim[] = [
  {
    todo: '02.1',
    checks: /^02\.1 |^02\.3 wait resumes with the value/,
    variants: [
      'run-to-completion',
      'yield-drops-coroutine',
      'resume-drops-value',
      'resume-sends-owed',
      'resume-never-throws',
      'resume-returns-on-error',
    ],
  },
  {
    quote: '`resume()` a coroutine with `gen.next(value)` or `gen.throw(error)`',
    checks: /^02\.3 wait resumes with the value/,
    variants: ['resume-drops-value', 'resume-sends-owed', 'resume-never-throws', 'resume-returns-on-error'],
  },
  {
    quote: 'so all ready coroutines take turns: **round robin**',
    checks: /^02\.1 a bare yield|^02\.6 generator tasks interleave/,
    variants: ['run-to-completion', 'yield-drops-coroutine', 'pool-drives-generator'],
  },
  {
    quote: 'In `schedule()`, put a coroutine that yielded at the *front* of the run queue',
    checks: /^02\.1 a bare yield/,
    variants: ['run-to-completion'],
  },
  {
    todo: '02.2',
    checks: /^02\.2 /,
    variants: ['hogs-the-loop', 'slice-in-seconds', 'slice-wrong-clock'],
  },
  {
    quote: 'It must end that turn every few milliseconds, or no timer, socket or promise callback runs',
    checks: /^02\.2 the event loop gets a turn/,
    variants: ['hogs-the-loop', 'slice-in-seconds', 'slice-wrong-clock'],
  },
  {
    quote: 'Make `sliceOver()` return `false`',
    checks: /^02\.2 /,
    variants: ['hogs-the-loop'],
  },
  {
    todo: '02.3',
    checks: /^02\.3 |^02\.5 a cancelled wait ignores/,
    variants: [
      'wait-swallows-rejection',
      'wait-ignores-rejection',
      'wait-resumes-inline',
      'wait-bypasses-wakeup',
    ],
  },
  {
    quote:
      'when it settles, queue the coroutine to resume with the value, or with the rejection thrown at its `yield`',
    checks: /^02\.3 /,
    variants: [
      'wait-swallows-rejection',
      'wait-ignores-rejection',
      'wait-resumes-inline',
      'resume-never-throws',
    ],
  },
  {
    quote: 'the late answer of a cancelled wait is dropped',
    checks: /^02\.5 a cancelled wait ignores/,
    variants: ['wait-bypasses-wakeup'],
  },
  {
    todo: '02.4',
    checks: /^02\.4 /,
    variants: ['sleepers-unsorted', 'sleepers-wake-early', 'sleep-busy-waits', 'sleeper-overwrites'],
  },
  {
    quote: 'sleepers sorted by deadline, woken earliest first',
    checks: /^02\.4 sleeps wake in deadline order/,
    variants: ['sleepers-unsorted', 'sleepers-wake-early'],
  },
  {
    quote: 'runs a thousand tasks at once in one process, on one thread',
    checks: /^02\.4 many sleepers sleep side by side|^02\.3 while one coroutine waits/,
    variants: ['sleep-busy-waits', 'sleeper-overwrites'],
  },
  {
    todo: '02.5',
    checks: /^02\.5 /,
    variants: [
      'cancel-drops',
      'cancel-returns-generator',
      'cancel-at-deadline',
      'cancelled-sleeper-stays',
      'cancel-splices-minus-one',
      'cancel-leaves-waiter-parked',
      'cancel-ignores-reason',
      'cancel-forgets-tick',
    ],
  },
  {
    quote: 'throw `Cancelled` into the coroutine at its `yield`, so its `finally` blocks run',
    checks: /^02\.5 cancel runs finally/,
    variants: [
      'cancel-drops',
      'cancel-returns-generator',
      'cancel-at-deadline',
      'cancel-leaves-waiter-parked',
      'cancel-ignores-reason',
      'cancel-forgets-tick',
    ],
  },
  {
    quote: 'A cancelled sleeper leaves the sleepers',
    checks: /^02\.5 a cancelled sleeper leaves|^02\.5 cancelling a waiter leaves the sleepers alone/,
    variants: ['cancelled-sleeper-stays', 'cancel-splices-minus-one'],
  },
  {
    quote: 'time limit cancels at the next `yield`',
    checks: /^02\.6 a time limit cancels/,
    variants: ['cancel-drops', 'cancel-ignores-reason'],
  },
  {
    todo: '02.6',
    checks: /^02\.6 /,
    variants: ['pool-returns-generators', 'pool-returns-promises', 'pool-drives-generator'],
  },
  {
    quote: 'a generator task runs with `yield*`, an async task is waited on, a sync task just returns',
    checks: /^02\.6 runs generator tasks/,
    variants: ['pool-returns-generators', 'pool-returns-promises'],
  },
];

export default claims;
