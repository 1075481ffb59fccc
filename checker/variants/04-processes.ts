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
    flaw: /running at once|never more than/,
    checks: '04 runs at most|04 CPU-bound',
  },
];

export default variants;
