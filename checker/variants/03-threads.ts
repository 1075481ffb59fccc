import type { Variant } from '../variants.ts';

/** Wrong threads pools: each must fail `npm run check -- 03` with a check that names its flaw. */
const variants: Variant[] = [
  {
    name: 'threads-on-main',
    lab: '03-threads',
    file: 'pool.ts',
    find: 'worker.postMessage(call);',
    // The outcome is handed back as if the thread had sent it: the pool cannot tell, only the timings can.
    replace:
      "void import('../../mini-queue/pools/solo.ts')\n" +
      "      .then(({ runInline }) => runInline(this.options, call, 'thread-' + worker.threadId))\n" +
      "      .then((outcome) => worker.emit('message', { type: 'done', id: call.id, outcome }));",
    description: 'a "thread pool" that runs every task on the main thread: right results, no speedup',
    flaw: /main thread|speedup/,
    checks: '03.2 runs each task',
  },
  {
    name: 'threads-crash-hangs',
    lab: '03-threads',
    file: 'pool.ts',
    find: "    if (lane.job) this.fail(lane, 'WorkerLostError', ",
    // Replaces the dead thread but forgets the call it held (the line is commented out): nobody settles it.
    replace: "    // if (lane.job) this.fail(lane, 'WorkerLostError', ",
    description: 'a task held by a crashed thread is never settled: the worker waits for it forever',
    flaw: /hung|must fail, never hang/,
    checks: '03.4 a thread that crashes',
  },
  {
    name: 'threads-no-time-limit',
    lab: '03-threads',
    file: 'pool.ts',
    find: '    return worker.terminate();',
    // Asks the thread to stop by message: a loop that never yields never reads it.
    replace: "    worker.postMessage({ type: 'stop' });\n    return Promise.resolve();",
    description:
      'reports a time limit but never stops the runaway thread: it spins on, and the pool is a thread short',
    flaw: /terminated and replaced|time limit/,
    checks: '03.5 ',
  },
];

export default variants;
