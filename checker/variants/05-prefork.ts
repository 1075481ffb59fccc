import type { Variant } from '../variants.ts';

const lab = '05-prefork';
const REQUEUE_LINE =
  '    if (job && this.options.rejectOnWorkerLost && !job.redelivered) this.requeue(lane);';
const FAIL_LINE =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the solution's line, quoted as text to patch
  "    else if (job) this.fail(lane, 'WorkerLostError', `${lane.name} ${reason} while running ${job.call.task}`);";
/** The failure call of that line alone. */
const FAIL_CALL = FAIL_LINE.slice(FAIL_LINE.indexOf('this.fail('));
const RECYCLE =
  '    if (lane.served >= max) {\n      lane.retired = true;\n      void this.leave(lane.handle);\n    }';

/**
 * Wrong prefork pools, as attendees write them: each must fail `npm run check -- 05` with a check that names its
 * flaw. Some patch code below the fence of pool.ts (close, halt): the base's guarantees are claims too, and a
 * check nothing can fail proves nothing.
 */
const variants: Variant[] = [
  {
    name: 'prefork-no-replace',
    lab,
    file: 'pool.ts',
    find: '    this.replace();',
    replace: '',
    description: 'never replaces a dead child: every crash shrinks the pool, down to nothing',
    flaw: /replaced|must be replaced/,
    checks: '05.3 a child killed with kill -9',
    slow: true,
  },
  {
    name: 'prefork-acks-early',
    lab,
    file: 'child.ts',
    find: '  const outcome = await runInline({ concurrency: 1, tasksPath, registry }, call, lane);',
    replace:
      "  // Reports success first, then runs the task: a child that dies now has 'finished' a task it never ran.\n" +
      "  process.send?.({ type: 'done', id: call.id, outcome: { ok: true, value: null, lane, startedAt: Date.now(), finishedAt: Date.now() } });\n" +
      '  const outcome = await runInline({ concurrency: 1, tasksPath, registry }, call, lane);',
    description:
      'acks before running: reports each task a success as it starts it, so a crash loses the task',
    flaw: /not a success|reported before it ran/,
    checks: '05.3 a child killed with kill -9',
  },
  {
    name: 'prefork-in-parent',
    lab,
    file: 'pool.ts',
    find: '    child.send(call);',
    // Runs the task in the parent and hands its outcome back as if the child had sent it.
    replace:
      "    void import('../../mini-queue/pools/solo.ts')\n" +
      "      .then(({ runInline }) => runInline(this.options, call, 'pid-' + child.pid))\n" +
      "      .then((outcome) => child.emit('message', { type: 'done', id: call.id, outcome }));",
    description: 'runs every task in the parent, children idle: right results, no parallelism, no isolation',
    flaw: /pool’s own process|in the parent/,
    checks: '05.2 runs tasks in the children|05 CPU-bound',
  },
  {
    name: 'prefork-process-per-task',
    lab,
    file: 'pool.ts',
    find: '    const max = this.options.maxTasksPerChild;\n    if (max === undefined) return;',
    // "A fresh child per task unless told otherwise": lab 04's cost, paid by a pool meant to avoid it.
    replace: '    const max = this.options.maxTasksPerChild ?? 1;',
    description:
      'recycles every child after one task by default: a process start-up per task, nothing reused',
    flaw: /reused/,
    checks: '05.2 runs tasks in the children',
  },
  {
    name: 'prefork-replace-twice',
    lab,
    file: 'pool.ts',
    find: FAIL_LINE,
    // A replacement where the task failed, and the one below as well: two children for each one that died.
    replace: `    else if (job) {\n      ${FAIL_CALL}\n      this.replace();\n    }`,
    description: 'forks two children for every child that dies under a task: the pool grows past its size',
    flaw: /exactly one|no more|never more than 2/,
    checks: '05.3 a child killed with kill -9',
  },
  {
    name: 'prefork-idle-death-not-replaced',
    lab,
    file: 'pool.ts',
    find: '    this.replace();',
    // Forks a successor only when the dead child held a task: one that dies between tasks is gone for good.
    replace: '    if (job) this.replace();',
    description:
      'replaces a dead child only if it held a task: a child killed while idle leaves the pool short',
    flaw: /replaced/,
    checks: '05.3 a child that dies while idle',
    slow: true,
  },
  {
    name: 'prefork-dead-call-success',
    lab,
    file: 'pool.ts',
    find: FAIL_LINE,
    // "The child is gone, so its task is over": the call resolves as a success with no value.
    replace:
      '    else if (job) {\n' +
      '      lane.job = undefined;\n' +
      '      job.resolve({ ok: true, value: null, lane: lane.name, startedAt: Date.now(), finishedAt: Date.now() });\n' +
      '    }',
    description: "settles a killed child's call as a success: a crash reads as a task done",
    flaw: /not a success/,
    checks: '05.3 a child killed with kill -9',
  },
  {
    name: 'prefork-lost-error-unnamed',
    lab,
    file: 'pool.ts',
    find: "this.fail(lane, 'WorkerLostError', ",
    replace: "this.fail(lane, 'Error', ",
    description:
      "fails a killed child's task with a plain Error, not WorkerLostError: a worker cannot tell why",
    flaw: /WorkerLostError/,
    checks: '05.3 a child killed with kill -9',
  },
  {
    name: 'prefork-ignores-reject',
    lab,
    file: 'pool.ts',
    find: `${REQUEUE_LINE}\n    // (05.3) Otherwise settle it now, as a failure: a call left pending would hold its message, unacked, forever.\n    else if (job)`,
    // Forgets the option: a killed child's task always fails, acks late or not.
    replace: '    if (job)',
    description: "ignores rejectOnWorkerLost: a killed child's task fails instead of running again",
    flaw: /redelivered|acks late/,
    checks: '05.3 with rejectOnWorkerLost, the task',
  },
  {
    name: 'prefork-requeue-always',
    lab,
    file: 'pool.ts',
    find: REQUEUE_LINE,
    // Acks late whatever the option: by default a killed child's task must fail, not run again.
    replace: '    if (job && !job.redelivered) this.requeue(lane);',
    description: "redelivers a killed child's task even without rejectOnWorkerLost: it runs twice, unasked",
    flaw: /must be reported failed|not a success/,
    checks: '05.3 a child killed with kill -9',
  },
  {
    name: 'prefork-redeliver-forever',
    lab,
    file: 'pool.ts',
    find: REQUEUE_LINE,
    // No once-only rule: a task that kills its child kills every child, forever.
    replace: '    if (job && this.options.rejectOnWorkerLost) this.requeue(lane);',
    description: 'redelivers without limit: a task that always kills its child loops forever',
    flaw: /never ends|hung|exactly twice/,
    checks: '05.3 with rejectOnWorkerLost, a task that kills',
    slow: true,
  },
  {
    name: 'prefork-recycle-off-by-one',
    lab,
    file: 'pool.ts',
    find: '    if (lane.served >= max) {',
    replace: '    if (lane.served > max) {',
    description: 'recycles a child after max + 1 tasks, not after max',
    flaw: /maxTasksPerChild 2/,
    checks: '05.4',
  },
  {
    name: 'prefork-recycle-not-retired',
    lab,
    file: 'pool.ts',
    find: '      lane.retired = true;\n',
    // Asks the child to leave but leaves it in service: the next call is handed to a child on its way out.
    replace: '',
    description: 'recycles a child without retiring it: a task handed to it as it leaves is lost',
    flaw: /every task succeeds|on its way out|2, 2/,
    checks: '05.4',
  },
  {
    name: 'prefork-recycle-kill',
    lab,
    file: 'pool.ts',
    find: RECYCLE,
    // "Done with it: kill it." No retire, no goodbye: a task handed over in the meantime dies with it.
    replace: '    if (lane.served >= max) lane.handle.kill();',
    description: 'recycles by killing the child without retiring it: the next task is killed mid-run',
    flaw: /every task succeeds|on its way out|WorkerLostError|2, 2/,
    checks: '05.4',
  },
  {
    name: 'prefork-halt-sigterm',
    lab,
    file: 'pool.ts',
    find: '    return this.leave(child, 0);',
    // SIGTERM can be caught or ignored by a task: the runaway runs on, and so does its child.
    replace:
      "    child.kill('SIGTERM');\n" +
      "    return new Promise((resolve) => child.once('exit', () => resolve()));",
    description: 'stops a runaway with SIGTERM: a task that ignores it keeps its child spinning',
    flaw: /SIGKILL|still alive|still running/,
    checks: '05 a runaway|05 terminate',
  },
  {
    name: 'prefork-halt-grace',
    lab,
    file: 'pool.ts',
    find: '    return this.leave(child, 0);',
    // The polite leave (disconnect, SIGKILL after 2 s): a loop never reads the disconnect, so it spins 2 s on.
    replace: '    return this.leave(child);',
    description: 'gives a runaway a 2 s grace before SIGKILL: the task has failed, yet its child spins on',
    flaw: /SIGKILL|still alive|still running/,
    checks: '05 a runaway|05 terminate',
  },
  {
    name: 'prefork-halt-noop',
    lab,
    file: 'pool.ts',
    find: '    return this.leave(child, 0);',
    replace: '    return Promise.resolve();',
    description:
      'halt() kills nothing: a runaway child spins forever, and terminate() leaves children behind',
    flaw: /SIGKILL|still alive|still running|must be replaced/,
    checks: '05 a runaway|05 terminate',
  },
  {
    name: 'prefork-close-cold',
    lab,
    file: 'pool.ts',
    find: '    await this.drained();\n',
    replace: '',
    description: 'close() sends the children away without waiting: tasks already given die with them',
    flaw: /warm close/,
    checks: '05 close',
  },
  {
    name: 'prefork-close-leaves-children',
    lab,
    file: 'pool.ts',
    find: '    await Promise.all([...this.lanes].map((lane) => this.leave(lane.handle)));',
    replace: '',
    description: 'close() waits for the tasks but never asks the children to leave: they outlive the pool',
    flaw: /exited after close/,
    checks: '05 close',
  },
  {
    name: 'prefork-watch-none',
    lab,
    file: 'child.ts',
    find: "  process.on('disconnect', () => process.exit(0));",
    // "The OS cleans up children": it does not; they are adopted by init and live on.
    replace: '',
    description: 'the child never watches its parent: a worker killed with kill -9 leaves orphans',
    flaw: /orphans/,
    checks: '05.6',
  },
  {
    name: 'prefork-watch-exitcode',
    lab,
    file: 'child.ts',
    find: "  process.on('disconnect', () => process.exit(0));",
    // Sets the exit code and waits for the event loop to empty: a task's timer keeps the orphan alive.
    replace: "  process.on('disconnect', () => {\n    process.exitCode = 0;\n  });",
    description:
      'on disconnect only sets process.exitCode: the child lives on until its task ends, an orphan',
    flaw: /orphans/,
    checks: '05.6',
  },
];

export default variants;
