/**
 * Lab 05's demo: `npx tsx labs/05-prefork [--solution] [--workers N] [--tasks N]`.
 *
 * Runs a CPU-bound batch (fib, ~40 ms a task) through your prefork pool at 1..P children and one past P, with a
 * speedup table; then a run with maxTasksPerChild 3 where a child is killed with SIGKILL mid-run, drawn as a
 * timeline (a new pid per recycled or replaced child); finally the pool behind a real worker on Redis. Passes
 * when every task is accounted for: right value, or (for the killed child's one task) a WorkerLostError.
 *
 * Don't change this file: your work is in pool.ts and child.ts.
 */
import { fileURLToPath } from 'node:url';
import { guide } from '../../kit/guided.ts';
import { machineFacts } from '../../kit/machine.ts';
import {
  calibrateFib,
  calls,
  drainOnRedis,
  faster,
  measureSpeedup,
  speedupTable,
  throwIfTodo,
} from '../../kit/parallel.ts';
import { runLab } from '../../kit/run-lab.ts';
import { style } from '../../kit/ui/style.ts';
import { table } from '../../kit/ui/table.ts';
import { drawTimeline } from '../../kit/ui/timeline.ts';
import { fib } from '../../mini-queue/examples/tasks.ts';
import { poolFactory } from '../../mini-queue/parts.ts';
import type { Pool, TaskOutcome } from '../../mini-queue/pool.ts';
import { EXAMPLE_TASKS_PATH, loadTasks } from '../../mini-queue/tasks.ts';

const MAX_TASKS_PER_CHILD = 3;

await runLab({
  name: '05-prefork',
  title: "05 — prefork: Celery's default pool, N processes started ahead",
  demo: guide('05-prefork', async ({ track, workers, tasks }) => {
    const cores = machineFacts().cores;
    const most = workers ?? cores;
    const { n, ms } = calibrateFib(40);
    const count = tasks ?? 6 * most;
    const expected = fib(n);
    console.log(
      `${cores} core(s). Batch: ${count} x fib(${n}) (~${ms.toFixed(0)} ms each), at 1..${most + 1} children (start-up not timed: a worker pays it once).`,
    );

    const createPool = await poolFactory('prefork', track);
    const registry = await loadTasks(EXAMPLE_TASKS_PATH);
    const rows = await measureSpeedup({
      createPool,
      options: { tasksPath: EXAMPLE_TASKS_PATH, registry },
      batch: () => calls('fib', [n], count),
      workers: Array.from({ length: most + 1 }, (_, i) => i + 1),
    });
    const outcomes = rows.flatMap((r) => [r.outcomes, ...r.incidents].flat());
    throwIfTodo(outcomes);
    // A child killed from outside (kill -9, the OOM killer) fails its one task: the pool did right, and the
    // timeline below shows where. Any other failure, or a wrong value, is a flaw.
    const killed = (o: TaskOutcome) => !o.ok && o.error.name === 'WorkerLostError';
    const wrong = outcomes.filter((o) => !killed(o) && (!o.ok || o.value !== expected));
    console.log(speedupTable(rows, count, 'children'));
    for (const row of rows) {
      for (const run of row.incidents.filter((r) => r.some(killed))) {
        console.log(
          style.yellow(
            `At ${row.workers} ${row.workers === 1 ? 'child' : 'children'}, a child was killed from outside mid-task (x):`,
          ),
        );
        console.log(drawTimeline(run.map((o) => ({ ...o, ...(o.ok ? {} : { mark: 'x' }) }))));
        for (const o of run)
          if (killed(o) && !o.ok) console.log(style.yellow(`  ${o.error.name}: ${o.error.message}`));
      }
    }

    // Recycling and a crash: maxTasksPerChild 3, and one child killed with SIGKILL while it runs a task.
    const fixtures = fileURLToPath(new URL('../../kit/fixtures/parallel-tasks.ts', import.meta.url));
    const pool = (await createPool({
      concurrency: most,
      tasksPath: fixtures,
      registry: await loadTasks(fixtures),
      maxTasksPerChild: MAX_TASKS_PER_CHILD,
    } as Parameters<typeof createPool>[0])) as Pool & { pids(): number[] };
    let crash: TaskOutcome[] = [];
    let victim = 0;
    try {
      const batch = calls('fibWhere', [n], 4 * MAX_TASKS_PER_CHILD * most);
      const running = Promise.all(batch.map((c) => pool.run(c)));
      await new Promise((resolve) => setTimeout(resolve, ms * 1.5));
      victim = pool.pids()[0] ?? 0;
      if (victim) process.kill(victim, 'SIGKILL');
      crash = await running;
    } finally {
      await pool.close();
    }
    throwIfTodo(crash);
    const lost = crash.filter((o) => !o.ok);
    const right = crash.filter((o) => o.ok && (o.value as { value: number }).value === expected);
    const perChild = new Map<string, number>();
    for (const o of crash) perChild.set(o.lane, (perChild.get(o.lane) ?? 0) + 1);
    console.log(
      style.dim(
        `maxTasksPerChild ${MAX_TASKS_PER_CHILD}, pid ${victim} killed (SIGKILL) mid-task: one row per child process; a new pid is a recycled or replaced child.`,
      ),
    );
    console.log(
      drawTimeline(
        crash.map((o) => ({
          lane: o.lane,
          startedAt: o.startedAt,
          finishedAt: o.finishedAt,
          ...(o.ok ? {} : { mark: 'x' }),
        })),
      ),
    );
    console.log(
      table(
        ['tasks', 'succeeded', 'failed (WorkerLostError)', 'children used', 'tasks per child'],
        [[crash.length, right.length, lost.length, perChild.size, [...perChild.values()].join(' ')]],
      ),
    );
    for (const o of lost) if (!o.ok) console.log(style.yellow(`  ${o.error.name}: ${o.error.message}`));

    const drained = await drainOnRedis({
      track,
      pool: 'prefork',
      concurrency: most,
      task: 'fib',
      args: [n],
      count,
    });
    console.log(
      `Through a worker on Redis (--pool prefork --concurrency ${most}): ${drained.stats.succeeded}/${count} succeeded in ${drained.seconds.toFixed(2)} s (children started included).`,
    );

    const accounted = right.length + lost.length === crash.length && lost.length <= 1;
    const ok = wrong.length === 0 && accounted && drained.stats.succeeded === count;
    console.log(
      ok
        ? style.green(
            `Every task accounted for: ${rows.at(-2)?.workers ?? most} children ran ${faster(rows.at(-2)?.speedup ?? 1)} than one, and the killed child's task failed instead of vanishing.`,
          )
        : style.red(
            wrong.length > 0
              ? `${wrong.length} task(s) wrong or failed, e.g. ${JSON.stringify(wrong[0])}`
              : !accounted
                ? `The crash run lost track of tasks: ${right.length} right + ${lost.length} failed of ${crash.length}.`
                : `Only ${drained.stats.succeeded}/${count} tasks succeeded through the worker.`,
          ),
    );
    return ok;
  }),
});
