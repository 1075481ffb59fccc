import type { Variant } from '../variants.ts';

/** Wrong web apps and wrong advice: each must fail `npm run check -- 06` with a check that names its flaw. */
const variants: Variant[] = [
  {
    name: 'offload-awaits-result',
    lab: '06-showdown',
    file: 'app.ts',
    find: '  app.issued.add(handle.id);\n',
    replace: '  app.issued.add(handle.id);\n  await handle.result({ timeout: 60_000 }).catch(() => {});\n',
    description:
      'enqueues, then waits for the result before answering: nothing blocks, yet every visitor waits as long as inline (and forever with no worker)',
    flaw: /answers 202 with a status URL at once|answers before the work is done/,
    checks: 'answers 202 with a status URL at once|answers before the work is done',
  },
  {
    name: 'offload-computes-first',
    lab: '06-showdown',
    file: 'app.ts',
    find: '  const handle = await app.queue.enqueue(task, args);\n',
    replace:
      "  (await import('../../kit/showdown/http-app.ts')).computeInline(task, args);\n" +
      '  const handle = await app.queue.enqueue(task, args);\n',
    description:
      'computes the task in the request handler and then enqueues it too: a 202 like the real thing, the event loop blocked all the same',
    flaw: /cheap endpoint stays fast/,
    checks: 'cheap endpoint stays fast',
  },
  {
    name: 'status-waits-for-result',
    lab: '06-showdown',
    file: 'app.ts',
    find: '  const record = await app.queue.handle(id).info();\n',
    replace:
      '  await app.queue.handle(id).result({ timeout: 60_000 }).catch(() => {});\n' +
      '  const record = await app.queue.handle(id).info();\n',
    description: 'the status handler waits until the task is done instead of reading its state',
    flaw: /status URL answers at once|answer at once/,
    checks: 'status URL answers at once',
  },
  {
    name: 'status-unknown-is-pending',
    lab: '06-showdown',
    file: 'app.ts',
    find: 'if (record === undefined && !app.issued.has(id)) {',
    replace: 'if (record === undefined && app.issued.size < 0) {',
    description: "answers PENDING for any id at all (Celery's own gotcha): a typo polls forever",
    flaw: /404/,
    checks: 'unknown id answers 404',
  },
  {
    name: 'advice-hard-coded',
    lab: '06-showdown',
    file: 'advice.ts',
    find: 'export function recommendPool(rows: ShowdownRow[]): Advice[] {\n',
    replace:
      'export function recommendPool(rows: ShowdownRow[]): Advice[] {\n' +
      "  const docs: Record<string, Advice['pool']> = { 'I/O': 'coroutines', CPU: 'prefork', mixed: 'prefork' };\n" +
      '  return [...new Set(rows.map((r) => r.workload))].map((workload) => ({\n' +
      '    workload,\n' +
      "    pool: docs[workload] ?? 'prefork',\n" +
      '    throughput: 0,\n' +
      '    speedup: 0,\n' +
      '    reason: "Celery\'s docs say so",\n' +
      '  }));\n' +
      '}\n' +
      'export function measured(rows: ShowdownRow[]): Advice[] {\n',
    description: "recites Celery's docs whatever the measurements say",
    flaw: /follows the measurements/,
    checks: 'follows the measurements',
  },
  {
    name: 'advice-fastest-only',
    lab: '06-showdown',
    file: 'advice.ts',
    find: '.filter((r) => r.throughput >= CLOSE_ENOUGH * fastest.throughput)',
    replace: '.filter((r) => r.throughput >= fastest.throughput)',
    description:
      'takes the fastest pool even when it blocked the main loop and another was within noise of it',
    flaw: /main loop free wins/,
    checks: 'main loop free wins',
  },
  {
    name: 'advice-ignores-blocked-loop',
    lab: '06-showdown',
    file: 'advice.ts',
    find: 'const healthy = succeeded.filter((r) => r.loopDelayP99 <= MAX_LOOP_DELAY_MS);',
    replace: 'const healthy = succeeded.filter((r) => r.loopDelayP99 <= Number.POSITIVE_INFINITY);',
    description: 'recommends the fastest pool even when it blocked its main loop for a second',
    flaw: /blocked its main loop/,
    checks: 'blocked its main loop',
  },
];

export default variants;
