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
  {
    name: 'offload-answers-200',
    lab: '06-showdown',
    file: 'app.ts',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the variant's source text, not a template
    find: 'return { status: 202, body: { id: handle.id, status: `/status/${handle.id}` } };',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the variant's source text, not a template
    replace: 'return { status: 200, body: { id: handle.id, status: `/status/${handle.id}` } };',
    description: 'answers 200 OK as if the work were done, where 202 Accepted says it is not yet',
    flaw: /answers 202/,
    checks: 'answers 202 with a status URL at once',
  },
  {
    name: 'offload-no-status-url',
    lab: '06-showdown',
    file: 'app.ts',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the variant's source text, not a template
    find: 'body: { id: handle.id, status: `/status/${handle.id}` } };',
    replace: 'body: { id: handle.id } };',
    description: 'answers 202 with the id only: the visitor is not told where to look',
    flaw: /status URL/,
    checks: 'answers 202 with a status URL at once',
  },
  {
    name: 'offload-enqueue-not-awaited',
    lab: '06-showdown',
    file: 'app.ts',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the variant's source text, not a template
    find: '  const handle = await app.queue.enqueue(task, args);\n  app.issued.add(handle.id);\n  return { status: 202, body: { id: handle.id, status: `/status/${handle.id}` } };',
    replace:
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the variant's source text, not a template
      '  const id = crypto.randomUUID();\n  void app.queue.enqueue(task, args, { id });\n  app.issued.add(id);\n  return { status: 202, body: { id, status: `/status/${id}` } };',
    description:
      'answers 202 before the enqueue has landed: the status URL can be asked before the task exists in Redis',
    flaw: /not in Redis yet/,
    checks: 'the 202 comes once the task is in Redis',
  },
  {
    name: 'offload-forgets-id',
    lab: '06-showdown',
    file: 'app.ts',
    find: '  app.issued.add(handle.id);\n',
    replace: '',
    description:
      'does not remember the ids it hands out: a task no worker started yet answers 404 at its own status URL',
    flaw: /answers 200|PENDING/,
    checks: 'status URL answers at once',
  },
  {
    name: 'status-no-record-is-404',
    lab: '06-showdown',
    file: 'app.ts',
    find: 'if (record === undefined && !app.issued.has(id)) {',
    replace: 'if (record === undefined) {',
    description: 'answers 404 for every task without a record, including the ones it just accepted (PENDING)',
    flaw: /answers 200|PENDING/,
    checks: 'status URL answers at once',
  },
  {
    name: 'status-only-issued',
    lab: '06-showdown',
    file: 'app.ts',
    find: 'if (record === undefined && !app.issued.has(id)) {',
    replace: 'if (!app.issued.has(id)) {',
    description: 'answers 404 for any id this app did not hand out, even one Redis holds a record of',
    flaw: /FAILURE|failed task/,
    checks: 'enqueued elsewhere shows its FAILURE',
  },
  {
    name: 'advice-near-tie-runner-up-only',
    lab: '06-showdown',
    file: 'advice.ts',
    find: '    const pick = candidates\n',
    replace:
      '    const [first, second] = [...candidates].sort((a, b) => b.throughput - a.throughput);\n' +
      '    const duel = second && second.throughput >= CLOSE_ENOUGH * first!.throughput && second.loopDelayP99 < first!.loopDelayP99 ? second : first!;\n' +
      '    const pick = [duel]\n',
    description:
      'weighs only the runner-up against the fastest: a third pool within 10% with a freer loop is missed',
    flaw: /near-ties/,
    checks: 'near-ties between several pools',
  },
  {
    name: 'advice-near-tie-chained',
    lab: '06-showdown',
    file: 'advice.ts',
    find: '      .filter((r) => r.throughput >= CLOSE_ENOUGH * fastest.throughput)\n',
    replace:
      '      .sort((a, b) => b.throughput - a.throughput)\n' +
      '      .filter((r, i, sorted) => i === 0 || r.throughput >= CLOSE_ENOUGH * sorted[i - 1]!.throughput)\n',
    description: 'chains the 10%: each pool within 10% of the next faster one, so 85 counts as near 100',
    flaw: /near-ties/,
    checks: 'near-ties between several pools',
  },
  {
    name: 'advice-tie-by-order',
    lab: '06-showdown',
    file: 'advice.ts',
    find: 'b.loopDelayP99 < a.loopDelayP99 || (b.loopDelayP99 === a.loopDelayP99 && b.throughput > a.throughput)',
    replace: 'b.loopDelayP99 < a.loopDelayP99',
    description:
      'breaks a tie on loop delay by table order, not by speed: the slower pool wins if it is listed first',
    flaw: /faster pool wins/,
    checks: 'near-tie on loop delay',
  },
  {
    name: 'advice-near-tie-strict',
    lab: '06-showdown',
    file: 'advice.ts',
    find: '.filter((r) => r.throughput >= CLOSE_ENOUGH * fastest.throughput)',
    replace: '.filter((r) => r.throughput > CLOSE_ENOUGH * fastest.throughput)',
    description: 'leaves a pool exactly 10% slower out of the near-ties',
    flaw: /exactly 90%/,
    checks: 'near-tie on loop delay',
  },
  {
    name: 'advice-window-from-unhealthy',
    lab: '06-showdown',
    file: 'advice.ts',
    find: 'const fastest = candidates.reduce(',
    replace: 'const fastest = succeeded.reduce(',
    description: 'measures the 10% window from the fastest pool even when it blocked its loop',
    flaw: /fastest healthy/,
    checks: 'window is measured from the fastest healthy',
  },
  {
    name: 'advice-by-wall-time',
    lab: '06-showdown',
    file: 'advice.ts',
    find: 'const fastest = candidates.reduce((a, b) => (b.throughput > a.throughput ? b : a));',
    replace: 'const fastest = candidates.reduce((a, b) => (b.seconds < a.seconds ? b : a));',
    description:
      'ranks pools by wall time: every pool ran for the same two seconds, so the first listed wins',
    flaw: /follows the measurements/,
    checks: 'follows the measurements',
  },
  {
    name: 'advice-counts-failures',
    lab: '06-showdown',
    file: 'advice.ts',
    find: 'r.workload === workload && r.failed === 0 && r.throughput > 0',
    replace: 'r.workload === workload && r.throughput > 0',
    description: 'lets a pool whose tasks failed compete: fast and failing wins',
    flaw: /failed/,
    checks: 'whose tasks failed is never recommended',
  },
  {
    name: 'advice-none-when-all-blocked',
    lab: '06-showdown',
    file: 'advice.ts',
    find: 'const candidates = healthy.length > 0 ? healthy : succeeded;',
    replace: 'const candidates = healthy;\n    if (candidates.length === 0) continue;',
    description:
      'gives no advice when every pool blocked its loop, where the fastest of them still is advice',
    flaw: /blocked its main loop/,
    checks: 'blocked its main loop',
  },
];

export default variants;
