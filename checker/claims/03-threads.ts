import type { Claim } from '../claims.ts';

/** Lab 03's README, line by line: each guarantee, the checks that fail when it breaks, the variants that prove it. */
const claims: Claim[] = [
  {
    todo: '03.1',
    checks: /^03\.1 /,
    variants: ['threads-one-worker', 'threads-thread-per-task'],
  },
  {
    quote: 'Each thread is started once and reused.',
    checks: /^03\.1 each thread is started once and reused/,
    variants: ['threads-thread-per-task'],
  },
  {
    todo: '03.2',
    checks: /^03\.2 /,
    variants: ['threads-on-main', 'threads-no-await', 'threads-lane-unnamed'],
  },
  {
    quote: 'the outcome comes back the same way, matched to its call **by task id**',
    checks: /^03\.3 routes every outcome back to its own call by id/,
    variants: ['threads-reply-by-order'],
  },
  {
    todo: '03.3',
    checks: /^03\.3 |^03\.2 runs each task/,
    variants: ['threads-reply-by-order', 'threads-on-main'],
  },
  {
    todo: '03.4',
    checks: /^03\.4 /,
    variants: [
      'threads-crash-hangs',
      'threads-no-replace',
      'threads-replace-twice',
      'threads-idle-death-not-replaced',
      'threads-dead-call-success',
      'threads-retry-dead-call',
      'threads-acks-early',
    ],
  },
  {
    quote:
      'A thread can die under a task (`process.exit()` in a task, an error thrown in a timer): that task fails, the pool starts a new thread, nothing hangs.',
    checks: /^03\.4 a thread that crashes fails its own task only/,
    variants: [
      'threads-crash-hangs',
      'threads-dead-call-success',
      'threads-acks-early',
      'threads-retry-dead-call',
      'threads-no-replace',
    ],
  },
  {
    quote: 'exit / error of a thread ─▶ its call fails (WorkerLostError), a new thread takes its place',
    checks: /^03\.4 a thread that crashes|^03\.4 a thread that dies while idle/,
    variants: ['threads-replace-twice', 'threads-idle-death-not-replaced', 'threads-no-replace'],
  },
  {
    todo: '03.5',
    checks: /^03\.5 /,
    variants: [
      'threads-no-time-limit',
      'threads-late-terminate',
      'threads-halt-unref',
      'threads-halt-no-wait',
    ],
  },
  {
    quote:
      'A runaway (`for (;;) {}`) cannot be interrupted from inside; the main thread `terminate()`s its thread at the **hard time limit**.',
    checks: /^03\.5 a runaway task fails at its hard time limit/,
    variants: ['threads-no-time-limit', 'threads-late-terminate', 'threads-halt-unref'],
  },
  {
    todo: '03.6',
    checks: /^03\.6 /,
    variants: [
      'threads-close-cold',
      'threads-close-no-wait',
      'threads-close-not-stopped',
      'threads-halt-no-wait',
    ],
  },
  {
    quote: '`close()` is a **warm shutdown**: what was given finishes, then the threads stop.',
    checks: /^03\.6 close\(\) lets running tasks finish, then stops every thread/,
    variants: ['threads-close-cold', 'threads-close-no-wait', 'threads-close-not-stopped'],
  },
  {
    todo: '03.7',
    checks: /^03\.7 /,
    variants: ['threads-counter-plain', 'threads-counter-load-store'],
  },
  {
    quote: '`counter[0]++` loses updates across threads; `Atomics.add` does not',
    checks: /^03\.7 with Atomics\.add/,
    variants: ['threads-counter-plain', 'threads-counter-load-store'],
  },
  {
    quote: 'with nothing like a GIL, so P threads really run on P cores',
    checks: /^03 CPU-bound tasks run side by side on distinct threads/,
    variants: ['threads-on-main', 'threads-one-worker'],
  },
  {
    quote: 'Every result is still right; the speedup column reads 1.0.',
    checks: /^03 CPU-bound tasks run side by side|^03\.2 runs each task in a worker thread/,
    variants: ['threads-on-main'],
  },
  {
    quote: 'the task is reported failed at its time limit, but its thread spins on at 100% of a core',
    checks: /^03\.5 a runaway task/,
    variants: ['threads-no-time-limit', 'threads-late-terminate'],
  },
];

export default claims;
