/**
 * Lab 04's demo: `npx tsx labs/04-processes [--solution] [--workers N] [--tasks N]`.
 *
 * Measures what a process per task costs (a fork, a Node start-up, the tasks module imported again) against a
 * thread pool that is already running; shows crash isolation (tasks that exit, throw in a timer or spin forever
 * fail alone, the worker lives on); runs a CPU-bound batch at 1..P children with a speedup table; and drains a
 * batch through a real worker on Redis. Passes when every task ended as it should.
 *
 * Don't change this file: your work is in pool.ts and child.ts.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { guide } from '../../kit/guided.ts';
import { machineFacts } from '../../kit/machine.ts';
import {
  calibrateFib,
  calls,
  drainOnRedis,
  measureSpeedup,
  runBatch,
  speedupTable,
  throwIfTodo,
} from '../../kit/parallel.ts';
import { runLab } from '../../kit/run-lab.ts';
import { style } from '../../kit/ui/style.ts';
import { table } from '../../kit/ui/table.ts';
import { drawTimeline } from '../../kit/ui/timeline.ts';
import { fib } from '../../mini-queue/examples/tasks.ts';
import { poolFactory } from '../../mini-queue/parts.ts';
import type { CreatePool, TaskOutcome } from '../../mini-queue/pool.ts';
import { loadTasks } from '../../mini-queue/tasks.ts';

const FIXTURES = fileURLToPath(new URL('../../kit/fixtures/parallel-tasks.ts', import.meta.url));

/** Per-task cost of a pool on a task that does nothing: ms from run() to the outcome, one task at a time. */
async function overhead(createPool: CreatePool, runs: number): Promise<{ ms: number; startMs: number }> {
  const registry = await loadTasks(FIXTURES);
  const pool = await createPool({ concurrency: 1, tasksPath: FIXTURES, registry });
  try {
    await runBatch(pool, calls('whereAmI', [], 1));
    let total = 0;
    let start = 0;
    for (const call of calls('whereAmI', [], runs)) {
      const asked = performance.timeOrigin + performance.now();
      const outcome = await pool.run(call);
      throwIfTodo([outcome]);
      total += performance.timeOrigin + performance.now() - asked;
      start += outcome.startedAt - asked;
    }
    return { ms: total / runs, startMs: start / runs };
  } finally {
    await pool.close();
  }
}

await runLab({
  name: '04-processes',
  title: '04 — processes: a fork per task',
  demo: guide('04-processes', async ({ track, workers, tasks }) => {
    const cores = machineFacts().cores;
    const most = workers ?? cores;
    const createPool = await poolFactory('processes', track);

    // 1. The cost of a process per task.
    const nodeOnly = (() => {
      const started = performance.now();
      spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' });
      return performance.now() - started;
    })();
    const forked = await overhead(createPool, 5);
    const threads = await overhead(await poolFactory('threads', 'solutions'), 5);
    console.log(
      table(
        ['one task that does nothing', 'ms per task', 'of which before it started'],
        [
          ['threads pool (threads already running)', threads.ms.toFixed(1), threads.startMs.toFixed(1)],
          [
            `${track === 'labs' ? 'your' : 'the reference'} fork per task`,
            forked.ms.toFixed(1),
            forked.startMs.toFixed(1),
          ],
          ['(a bare `node -e ""`, no tsx, no tasks)', nodeOnly.toFixed(1), ''],
        ],
      ),
    );
    console.log(
      style.dim(
        `A fork per task costs ~${Math.round(forked.ms)} ms before any work: ${Math.round(forked.ms / Math.max(threads.ms, 0.01))}x a message to a running thread.`,
      ),
    );

    // 2. Crash isolation: every task misbehaves in its own process.
    const registry = await loadTasks(FIXTURES);
    const pool = await createPool({ concurrency: most, tasksPath: FIXTURES, registry });
    const crashes: Array<[string, unknown[], number | undefined, 'ok' | 'fail']> = [
      ['fibWhere', [25], undefined, 'ok'],
      ['exitLane', [1], undefined, 'fail'],
      ['throwInTimer', ['boom in a timer'], undefined, 'fail'],
      ['spin', [], 1000, 'fail'],
      ['fibWhere', [26], undefined, 'ok'],
    ];
    let crashed: TaskOutcome[];
    try {
      crashed = await Promise.all(
        crashes.map(([task, args, timeout], i) =>
          pool.run({ id: `crash-${i}`, task, args, attempt: 0, ...(timeout ? { timeout } : {}) }),
        ),
      );
    } finally {
      await pool.close();
    }
    throwIfTodo(crashed);
    const isolated = crashed.every((o, i) => (crashes[i]![3] === 'ok') === o.ok);
    console.log(
      table(
        ['task', 'ran in', 'outcome'],
        crashed.map((o, i) => [
          `${crashes[i]![0]}(${crashes[i]![1].join(', ')})${crashes[i]![2] ? ` time limit ${crashes[i]![2]} ms` : ''}`,
          o.lane,
          o.ok ? `ok ${JSON.stringify(o.value)}` : `${o.error.name}: ${o.error.message}`.slice(0, 90),
        ]),
      ),
    );
    console.log(
      style.dim(`Worker pid ${process.pid} is still here: each crash took down only its own process.`),
    );

    // 3. Speedup on CPU-bound tasks long enough to pay for the fork.
    const { n, ms } = calibrateFib(100);
    const count = tasks ?? 2 * most;
    const expected = fib(n);
    console.log(`Batch: ${count} x fib(${n}) (~${ms.toFixed(0)} ms each), at 1..${most} children.`);
    const rows = await measureSpeedup({
      createPool,
      options: { tasksPath: FIXTURES, registry },
      batch: () => calls('fib', [n], count),
      workers: Array.from({ length: most }, (_, i) => i + 1),
      repeats: 2,
    });
    const outcomes = rows.flatMap((r) => r.outcomes);
    throwIfTodo(outcomes);
    const wrong = outcomes.filter((o) => !o.ok || o.value !== expected);
    console.log(speedupTable(rows, count, 'children'));
    console.log(style.dim(`Timeline at ${rows.at(-1)!.workers} children: a new pid per task.`));
    console.log(drawTimeline(rows.at(-1)!.spans));

    const drained = await drainOnRedis({
      track,
      pool: 'processes',
      concurrency: most,
      task: 'fib',
      args: [25],
      count: 4 * most,
    });
    console.log(
      `Through a worker on Redis (--pool processes --concurrency ${most}): ${drained.stats.succeeded}/${4 * most} succeeded in ${drained.seconds.toFixed(2)} s.`,
    );

    const ok = isolated && wrong.length === 0 && drained.stats.succeeded === 4 * most;
    console.log(
      ok
        ? style.green('Crashes failed alone, every other task was right, and the worker lived on.')
        : style.red(
            !isolated
              ? 'A crash was not reported as its task’s failure (or a healthy task failed): see the table above.'
              : wrong.length > 0
                ? `${wrong.length} task(s) wrong or failed, e.g. ${JSON.stringify(wrong[0])}`
                : `Only ${drained.stats.succeeded}/${4 * most} tasks succeeded through the worker.`,
          ),
    );
    return ok;
  }),
});
