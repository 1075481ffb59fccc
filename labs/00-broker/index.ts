/**
 * Lab 00's demo: `npx tsx labs/00-broker [--solution] [--workers N] [--tasks N]`.
 *
 * Enqueues a mix of the talk's tasks, lets a worker die holding some of them, and has N workers drain the
 * queue through your broker. Passes when every task succeeded exactly as enqueued, the dead worker's included.
 *
 * Don't change this file: your work is in broker.ts and lua/.
 */

import { guide } from '../../kit/guided.ts';
import { runLab } from '../../kit/run-lab.ts';
import { dropThrowaways, throwaway } from '../../kit/throwaway.ts';
import { ProgressBar } from '../../kit/ui/progress.ts';
import { style } from '../../kit/ui/style.ts';
import { table } from '../../kit/ui/table.ts';
import { drawTimeline, type Span } from '../../kit/ui/timeline.ts';
import { deleteQueue } from '../../mini-queue/admin.ts';
import { openBroker } from '../../mini-queue/parts.ts';
import { Queue } from '../../mini-queue/queue.ts';
import { connectRedis } from '../../mini-queue/redis/client.ts';
import { type TaskRun, Worker } from '../../mini-queue/worker.ts';

const VISIBILITY_MS = 1500;
/** The talk's heavy work, in sizes that keep the demo short. */
const MIX: Array<[string, unknown[]]> = [
  ['sendEmail', ['ada@example.com', 'Your invoice']],
  ['scrapePage', [7]],
  ['fib', [22]],
  ['thumbnail', [192]],
  ['predict', [2, 64]],
];

await runLab({
  name: '00-broker',
  title: '00 — the broker: a reliable queue on Redis',
  demo: guide('00-broker', async ({ track, workers = 2, tasks = 200 }) => {
    const name = throwaway(`lab00-${process.pid}`);
    const queue = new Queue({ name, track, visibilityMs: VISIBILITY_MS });
    const started: Worker[] = [];
    try {
      for (const [i, [task, args]] of MIX.entries()) {
        const n = Math.floor(tasks / MIX.length) + (i < tasks % MIX.length ? 1 : 0);
        if (n > 0)
          await queue.enqueueMany(
            task,
            Array.from({ length: n }, () => args),
          );
      }
      console.log(`Enqueued ${tasks} tasks on ${style.cyan(`mq:{${name}}:waiting`)}.`);

      // A worker that reserves 3 messages and dies before acking them (think kill -9).
      const doomed = await openBroker({ queue: name, visibilityMs: VISIBILITY_MS }, track);
      const held = await doomed.reserve(3, 1000);
      await doomed.close();
      console.log(
        `A worker reserved ${held.length} message${held.length === 1 ? '' : 's'} and died. Their leases run out in ${VISIBILITY_MS} ms; recover() gives them back.`,
      );

      const progress = new ProgressBar(`${workers} worker(s)`, tasks);
      const runs: Array<TaskRun & { worker: number }> = [];
      let settled = 0;
      let allDone: () => void = () => {};
      const finished = new Promise<void>((resolve) => {
        allDone = resolve;
      });
      const t0 = Date.now();
      for (let w = 1; w <= workers; w++) {
        const worker = await Worker.start({
          queue: name,
          track: { broker: track },
          visibilityMs: VISIBILITY_MS,
        });
        worker.on('task', (run) => {
          runs.push({ ...run, worker: w });
          if (run.state !== 'RETRY') settled++;
          progress.tick();
          if (settled === tasks) allDone();
        });
        started.push(worker);
      }
      // Stop at the first of: all settled, a worker failing (a TODO not done), or a generous deadline.
      const failed = Promise.race(started.map((w) => w.done)).then(() => {
        throw new Error('a worker stopped before the queue was drained');
      });
      const deadline = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 60_000).unref());
      const outcome = await Promise.race([finished, failed, deadline]);
      const elapsed = (Date.now() - t0) / 1000;
      await Promise.all(started.map((w) => w.stop()));
      const stats = await queue.stats();

      const heldIds = new Set(held.map((raw) => (JSON.parse(raw) as { id: string }).id));
      const recovered = runs.filter((r) => heldIds.has(r.id) && r.state === 'SUCCESS').length;
      console.log(
        table(
          ['worker', 'tasks', 'ok', 'failed'],
          Array.from({ length: workers }, (_, i) => {
            const mine = runs.filter((r) => r.worker === i + 1);
            return [
              `worker-${i + 1}`,
              mine.length,
              mine.filter((r) => r.state === 'SUCCESS').length,
              mine.filter((r) => r.state === 'FAILURE').length,
            ];
          }),
        ),
      );
      const spans: Span[] = runs.map((r) => ({
        lane: `worker-${r.worker}`,
        startedAt: r.startedAt,
        finishedAt: r.finishedAt,
      }));
      console.log(drawTimeline(spans));
      const ok =
        outcome !== 'late' &&
        stats.succeeded === tasks &&
        stats.failed === 0 &&
        stats.dead === 0 &&
        stats.waiting === 0;
      console.log(
        table(
          ['enqueued', 'succeeded', 'failed', 'dead', 'recovered', 'seconds', 'tasks/s'],
          [
            [
              tasks,
              stats.succeeded,
              stats.failed,
              stats.dead,
              `${recovered}/${held.length}`,
              elapsed.toFixed(2),
              (tasks / elapsed).toFixed(0),
            ],
          ],
        ),
      );
      console.log(
        ok
          ? style.green(`${stats.succeeded}/${tasks} tasks done, the dead worker's ${held.length} included.`)
          : style.red(`Only ${stats.succeeded}/${tasks} tasks done (stats: ${JSON.stringify(stats)}).`),
      );
      return ok;
    } finally {
      await Promise.all(started.map((w) => w.stop({ cold: true })));
      await queue.close();
      await dropThrowaways([name]);
    }
  }),
});
