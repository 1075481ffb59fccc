import type { Variant } from '../variants.ts';

/** Wrong prefork pools: each must fail `npm run check -- 05` with a check that names its flaw. */
const variants: Variant[] = [
  {
    name: 'prefork-no-replace',
    lab: '05-prefork',
    file: 'pool.ts',
    find: '    this.replace();',
    replace: '',
    description: 'never replaces a dead child: every crash shrinks the pool, down to nothing',
    flaw: /replaced|must be replaced/,
    checks: '05.3 a child killed with kill -9',
  },
  {
    name: 'prefork-acks-early',
    lab: '05-prefork',
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
];

export default variants;
