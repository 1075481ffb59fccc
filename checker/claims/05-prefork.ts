import type { Claim } from '../claims.ts';

/** Lab 05's README, line by line: each guarantee, the checks that fail when it breaks, the variants that prove it. */
const claims: Claim[] = [
  {
    todo: '05.1',
    checks: /^05\.1 |^05\.2 runs tasks in the children/,
    variants: ['prefork-in-parent', 'prefork-process-per-task'],
  },
  {
    quote: '**Started ahead, reused**: a child costs a start-up once, then a message per task',
    checks: /^05\.2 runs tasks in the children, reusing them/,
    variants: ['prefork-process-per-task', 'prefork-in-parent'],
  },
  {
    todo: '05.2',
    checks: /^05\.2 /,
    variants: ['prefork-in-parent'],
  },
  {
    todo: '05.3',
    checks: /^05\.3 /,
    variants: [
      'prefork-no-replace',
      'prefork-acks-early',
      'prefork-replace-twice',
      'prefork-idle-death-not-replaced',
      'prefork-dead-call-success',
      'prefork-lost-error-unnamed',
      'prefork-ignores-reject',
      'prefork-requeue-always',
      'prefork-redeliver-forever',
    ],
  },
  {
    quote:
      'a child killed under a task (`kill -9`, the OOM killer, a segfault in a native module) fails that task with `WorkerLostError`, never loses it, and a new child takes its place',
    checks: /^05\.3 a child killed with kill -9|^05\.3 a child that dies while idle/,
    variants: [
      'prefork-no-replace',
      'prefork-acks-early',
      'prefork-dead-call-success',
      'prefork-lost-error-unnamed',
      'prefork-replace-twice',
      'prefork-idle-death-not-replaced',
    ],
  },
  {
    quote:
      'With `rejectOnWorkerLost`, the task runs again on another child instead (acks late: at least once).',
    checks: /^05\.3 with rejectOnWorkerLost, the task of a killed child runs again/,
    variants: ['prefork-ignores-reject'],
  },
  {
    quote: 'By default a lost task fails',
    checks: /^05\.3 a child killed with kill -9/,
    variants: ['prefork-requeue-always'],
  },
  {
    quote: 'which is why the pool redelivers only once',
    checks: /^05\.3 with rejectOnWorkerLost, a task that kills every child/,
    variants: ['prefork-redeliver-forever'],
  },
  {
    todo: '05.4',
    checks: /^05\.4 /,
    variants: ['prefork-recycle-off-by-one', 'prefork-recycle-not-retired', 'prefork-recycle-kill'],
  },
  {
    quote: '**Recycled**: after `maxTasksPerChild` tasks a child leaves and a fresh one starts',
    checks: /^05\.4 /,
    variants: ['prefork-recycle-off-by-one', 'prefork-recycle-not-retired', 'prefork-recycle-kill'],
  },
  {
    quote: "**Hard time limit**: a runaway task's child is killed (SIGKILL) and replaced.",
    checks: /^05 a runaway task fails at its hard time limit/,
    variants: ['prefork-halt-sigterm', 'prefork-halt-grace', 'prefork-halt-noop'],
  },
  {
    todo: '05.6',
    checks: /^05\.6 /,
    variants: ['prefork-watch-none', 'prefork-watch-exitcode'],
  },
  {
    quote: '**No orphans**: a child whose parent died, however it died, exits',
    checks: /^05\.6 children exit when their parent dies/,
    variants: ['prefork-watch-none', 'prefork-watch-exitcode'],
  },
  {
    quote: '`close()` is warm (in-flight tasks finish, then the children are asked to leave)',
    checks: /^05 close\(\) lets running tasks finish/,
    variants: ['prefork-close-cold', 'prefork-close-leaves-children'],
  },
  {
    quote: "the worker's second signal is cold (children killed",
    checks: /^05 terminate\(\) \(cold\) kills every child/,
    variants: ['prefork-halt-noop', 'prefork-halt-sigterm', 'prefork-halt-grace'],
  },
  {
    quote:
      'Once started, both run one task per process on its own core: no GIL, no shared heap, real parallelism.',
    checks: /^05 CPU-bound tasks run side by side in distinct children/,
    variants: ['prefork-in-parent'],
  },
];

export default claims;
