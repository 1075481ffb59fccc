import type { Variant } from '../variants.ts';

/** Wrong fork-per-task pools: each must fail `npm run check -- 04` with a check that names its flaw. */
const variants: Variant[] = [
  {
    name: 'processes-exit-is-success',
    lab: '04-processes',
    file: 'pool.ts',
    find: '    if (job.outcome) {\n      job.slot.settle(job.outcome);',
    replace:
      '    {\n      job.slot.settle(job.outcome ?? { ok: true, value: null, lane: job.slot.lane, startedAt: Date.now(), finishedAt: Date.now() });',
    description: 'takes any exit of a child as success: a crashed task "succeeds" with no result',
    flaw: /not a success/,
    checks: '04.3 a task that exits',
  },
  {
    name: 'processes-one-at-a-time',
    lab: '04-processes',
    file: 'pool.ts',
    find: 'new Slots(options.concurrency, ',
    replace: 'new Slots(1, ',
    description: 'forks one child at a time whatever the concurrency: right results, no parallelism',
    flaw: /running at once|never more than|expected exactly 2/,
    checks: '04 runs at most|04 CPU-bound',
    slow: true,
  },
  {
    name: 'processes-exit-zero-is-success',
    lab: '04-processes',
    file: 'pool.ts',
    find: '    if (job.outcome) {\n      job.slot.settle(job.outcome);',
    replace:
      '    if (job.outcome || code === 0) {\n      job.slot.settle(job.outcome ?? { ok: true, value: null, lane: job.slot.lane, startedAt: Date.now(), finishedAt: Date.now() });',
    description: 'takes exit code 0 as success even when the child sent no result',
    flaw: /exit 0 is not a result|not a success/,
    checks: '04.3 a child that exits with code 0',
  },
  {
    name: 'processes-signal-unnamed',
    lab: '04-processes',
    file: 'pool.ts',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the variant's source text, not a template
    find: 'const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the variant's source text, not a template
    replace: 'const how = `exited with code ${code}`;',
    description:
      'reports every crash by its exit code: a child killed by SIGKILL fails as "exited with code null"',
    flaw: /names the signal/,
    checks: '04.3 a child killed by a signal',
  },
  {
    name: 'processes-stderr-ignored',
    lab: '04-processes',
    file: 'pool.ts',
    find: "stdio: ['ignore', 'inherit', 'pipe', 'ipc'],",
    replace: "stdio: ['ignore', 'inherit', 'inherit', 'ipc'],",
    description: "does not pipe the child's stderr: a crash fails its task with no reason",
    flaw: /own words/,
    checks: '04.3 a task that exits',
  },
  {
    name: 'processes-reason-dropped',
    lab: '04-processes',
    file: 'pool.ts',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the variant's source text, not a template
    find: "before reporting${said ? `: ${said}` : ''}`",
    replace: 'before reporting`',
    description: "reads stderr but leaves the child's last words out of the failure",
    flaw: /own words/,
    checks: '04.3 a task that exits',
  },
  {
    name: 'processes-json-serialization',
    lab: '04-processes',
    file: 'pool.ts',
    find: "serialization: 'advanced',",
    replace: "serialization: 'json',",
    description:
      "forks with 'json' serialization: a Map arrives as {}, a Date as a string, a BigInt cannot be sent",
    flaw: /structured clone/,
    checks: '04.1 arguments reach the child',
  },
  {
    name: 'processes-child-never-exits',
    lab: '04-processes',
    file: 'child.ts',
    find: '  process.exit(0);\n}',
    replace: '}',
    description:
      'the child sends its outcome and lives on (the IPC channel keeps it alive): the call never settles',
    flaw: /exits once its outcome is sent/,
    checks: '04.2 each task gets a new process',
    slow: true,
  },
  {
    name: 'processes-time-limit-sigterm',
    lab: '04-processes',
    file: 'pool.ts',
    find: "job.child.kill('SIGKILL');",
    replace: "job.child.kill('SIGTERM');",
    description: 'stops a runaway with SIGTERM: a task that ignores it spins on after its time limit',
    flaw: /ignores SIGTERM|must be gone/,
    checks: '04.4 a runaway that ignores SIGTERM',
    slow: true,
  },
  {
    name: 'processes-time-limit-no-kill',
    lab: '04-processes',
    file: 'pool.ts',
    find: "    job.child.kill('SIGKILL');\n",
    replace: '',
    description:
      'fails the runaway at its time limit but never kills its process: it spins on, holding a core',
    flaw: /must be gone|was killed/,
    checks: '04.4',
    slow: true,
  },
  {
    name: 'processes-time-limit-as-crash',
    lab: '04-processes',
    file: 'pool.ts',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the variant's source text, not a template
    find: "    job.slot.fail('TimeLimitExceeded', `time limit of ${job.slot.call.timeout} ms exceeded`);\n",
    replace: '',
    description:
      'kills the runaway but does not settle it: it fails as a crash (WorkerLostError), not TimeLimitExceeded',
    flaw: /TimeLimitExceeded/,
    checks: '04.4',
  },
  {
    name: 'processes-concurrency-plus-one',
    lab: '04-processes',
    file: 'pool.ts',
    find: 'new Slots(options.concurrency, ',
    replace: 'new Slots(options.concurrency + 1, ',
    description: 'an off-by-one limit: one child more than `concurrency` at once',
    flaw: /expected exactly 2/,
    checks: '04 runs at most',
  },
  {
    name: 'processes-concurrency-minus-one',
    lab: '04-processes',
    file: 'pool.ts',
    find: 'new Slots(options.concurrency, ',
    replace: 'new Slots(Math.max(1, options.concurrency - 1), ',
    description: 'an off-by-one limit: one child fewer than `concurrency` at once',
    flaw: /expected exactly 2/,
    checks: '04 runs at most',
  },
  {
    name: 'processes-close-returns-early',
    lab: '04-processes',
    file: 'pool.ts',
    find: '    return this.slots.drain();',
    replace: '    void this.slots.drain();\n    return Promise.resolve();',
    description: 'close() stops taking calls and resolves at once, while children still run their tasks',
    flaw: /warm close waits/,
    checks: '04 runs at most',
  },
];

export default variants;
