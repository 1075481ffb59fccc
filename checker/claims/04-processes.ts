import type { Claim } from '../claims.ts';

/** Lab 04's guarantees (README) → the checks that fail when one is broken → the wrong pools that prove it. */
const claims: Claim[] = [
  { todo: '04.1', checks: /^04\.1/, variants: ['processes-json-serialization'] },
  { todo: '04.2', checks: /^04\.2/, variants: ['processes-child-never-exits'] },
  {
    todo: '04.3',
    checks: /^04\.3/,
    variants: [
      'processes-exit-is-success',
      'processes-exit-zero-is-success',
      'processes-signal-unnamed',
      'processes-stderr-ignored',
      'processes-reason-dropped',
    ],
  },
  {
    todo: '04.4',
    checks: /^04\.4/,
    variants: [
      'processes-time-limit-sigterm',
      'processes-time-limit-no-kill',
      'processes-time-limit-as-crash',
    ],
  },
  {
    quote:
      "'advanced' uses the V8 serializer, the structured clone that worker threads use: Date, Map, Set, BigInt, typed arrays and errors survive",
    checks: /^04\.1 arguments reach the child by structured clone/,
    variants: ['processes-json-serialization'],
  },
  {
    quote:
      'an exit without one is a crash, and the task fails: never a silent success, never a call left hanging',
    checks: /^04\.3 a (task that exits|child that exits with code 0|child killed by a signal)/,
    variants: ['processes-exit-is-success', 'processes-exit-zero-is-success'],
  },
  {
    quote:
      "The failure says how: the exit code or the signal, and the child's last error line from its stderr.",
    checks: /^04\.3 (a task that exits|a child killed by a signal)/,
    variants: ['processes-signal-unnamed', 'processes-stderr-ignored', 'processes-reason-dropped'],
  },
  {
    quote: 'a task that exits, throws in a timer or spins forever ends only its own process',
    checks: /^04\.3 a task that exits|^04\.4/,
    variants: ['processes-exit-is-success', 'processes-time-limit-no-kill'],
  },
  {
    quote: 'time limit → SIGKILL the child',
    checks: /^04\.4 a runaway that ignores SIGTERM/,
    variants: ['processes-time-limit-sigterm', 'processes-time-limit-no-kill'],
  },
  {
    quote:
      "Use SIGTERM instead of SIGKILL in timeUp(), and make a task process.on('SIGTERM', () => {}): the runaway ignores you.",
    checks: /^04\.4 a runaway that ignores SIGTERM/,
    variants: ['processes-time-limit-sigterm'],
  },
  {
    quote: 'drop the process.exit(0): the IPC channel keeps each child alive after its task',
    checks: /^04\.2 each task gets a new process, which exits after it/,
    variants: ['processes-child-never-exits'],
  },
  {
    quote: 'at most concurrency calls at once, the rest waiting',
    checks: /^04 runs (exactly|at most)/,
    variants: [
      'processes-one-at-a-time',
      'processes-concurrency-plus-one',
      'processes-concurrency-minus-one',
    ],
  },
  {
    quote: 'a close that waits for the last child',
    checks: /^04 runs at most .*close\(\) waits/,
    variants: ['processes-close-returns-early'],
  },
  {
    quote: "the check grades parallelism from the tasks' own clocks",
    checks: /^04 CPU-bound tasks run in parallel/,
    variants: ['processes-one-at-a-time'],
  },
];

export default claims;
