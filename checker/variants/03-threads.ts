import type { Variant } from '../variants.ts';

/** Wrong threads pools: each must fail `npm run check -- 03` with a check that names its flaw. */
const variants: Variant[] = [
  {
    name: 'threads-on-main',
    lab: '03-threads',
    file: 'pool.ts',
    find: 'lane.worker.postMessage(toThread(job.call));',
    replace:
      "void import('../../mini-queue/pools/solo.ts')\n" +
      '      .then(({ runInline }) => runInline(this.options, job.call, lane.name))\n' +
      '      .then((outcome) => this.finish(lane, outcome));',
    description: 'a "thread pool" that runs every task on the main thread: right results, no speedup',
    flaw: /main thread|speedup/,
    checks: '03.2 runs each task',
  },
  {
    name: 'threads-crash-hangs',
    lab: '03-threads',
    file: 'pool.ts',
    find: "this.finish(lane, { ...failure('WorkerLostError',",
    // The call becomes a discarded comma expression: the failure is built, and given to nobody.
    replace: "void (lane, { ...failure('WorkerLostError',",
    description: 'a task held by a crashed thread is never settled: the worker waits for it forever',
    flaw: /hung|must fail, never hang/,
    checks: '03.4 a thread that crashes',
  },
  {
    name: 'threads-no-time-limit',
    lab: '03-threads',
    file: 'pool.ts',
    find: '    this.retire(lane);\n    this.finish(lane, {',
    replace: '    this.finish(lane, {',
    description:
      'reports a time limit but never terminates the runaway thread (it spins on, and gets more calls)',
    flaw: /terminated and replaced|time limit/,
    checks: '03.5 ',
  },
];

export default variants;
