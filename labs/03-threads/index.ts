/**
 * Lab 03's demo: `npx tsx labs/03-threads [--solution] [--workers N] [--tasks N]`.
 *
 * Runs one CPU-bound batch (fib, sized to ~40 ms a task on this machine) through your threads pool at 1..P
 * threads and one past P, prints time, speedup and efficiency, a per-thread timeline, the same batch through
 * piscina, the shared-counter race, and finally the pool behind a real worker on Redis. Passes when every task
 * returned the right value and the counter with Atomics is exact.
 *
 * Don't change this file: your work is in pool.ts, thread.ts and counter.ts.
 */
import { Piscina } from 'piscina';
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
import { partFile, poolFactory } from '../../mini-queue/parts.ts';
import { PISCINA_TASK, type PiscinaOutcome } from '../../mini-queue/runtime/piscina-task.ts';
import { TS_THREAD_ENTRY, tsThreadData } from '../../mini-queue/runtime/typescript.ts';
import { EXAMPLE_TASKS_PATH, loadTasks } from '../../mini-queue/tasks.ts';

await runLab({
  name: '03-threads',
  title: '03 — worker threads: parallel JavaScript, one process',
  demo: guide('03-threads', async ({ track, workers, tasks }) => {
    const cores = machineFacts().cores;
    const most = workers ?? cores;
    const { n, ms } = calibrateFib(40);
    const count = tasks ?? 6 * most;
    const expected = fib(n);
    console.log(
      `${cores} core(s). Batch: ${count} x fib(${n}) (~${ms.toFixed(0)} ms each on one thread), at 1..${most + 1} threads.`,
    );

    const createPool = await poolFactory('threads', track);
    const registry = await loadTasks(EXAMPLE_TASKS_PATH);
    const rows = await measureSpeedup({
      createPool,
      options: { tasksPath: EXAMPLE_TASKS_PATH, registry },
      batch: () => calls('fib', [n], count),
      workers: Array.from({ length: most + 1 }, (_, i) => i + 1),
    });
    const outcomes = rows.flatMap((r) => r.outcomes);
    throwIfTodo(outcomes);
    const wrong = outcomes.filter((o) => !o.ok || o.value !== expected);
    console.log(speedupTable(rows, count, 'threads'));
    const atCores = rows.find((r) => r.workers === Math.min(most, cores)) ?? rows.at(-1)!;
    console.log(
      style.dim(`Timeline at ${atCores.workers} thread(s): one row per thread, time left to right.`),
    );
    console.log(drawTimeline(atCores.spans));

    // piscina, the de facto threads pool for Node, on the same batch: the bar to compare your pool against.
    const piscina = new Piscina({
      filename: TS_THREAD_ENTRY,
      workerData: tsThreadData(PISCINA_TASK, { tasksPath: EXAMPLE_TASKS_PATH }),
      minThreads: atCores.workers,
      maxThreads: atCores.workers,
    });
    let piscinaSeconds = Number.POSITIVE_INFINITY;
    try {
      const batch = () =>
        Promise.all(
          Array.from(
            { length: count },
            () => piscina.run({ task: 'fib', args: [n] }) as Promise<PiscinaOutcome>,
          ),
        );
      await batch();
      for (let r = 0; r < 3; r++) {
        const started = performance.now();
        await batch();
        piscinaSeconds = Math.min(piscinaSeconds, (performance.now() - started) / 1000);
      }
    } finally {
      await piscina.close();
    }
    const t1 = rows[0]!.seconds;
    console.log(
      table(
        ['pool', 'threads', 'seconds', 'speedup vs your 1 thread'],
        [
          ['yours', atCores.workers, atCores.seconds.toFixed(3), atCores.speedup.toFixed(2)],
          ['piscina', atCores.workers, piscinaSeconds.toFixed(3), (t1 / piscinaSeconds).toFixed(2)],
        ],
      ),
    );

    // Shared memory: the race a GIL hides in Python and Node's threads expose.
    const { raceCounter } = (await import(partFile(track, '03-threads', 'counter.ts').href)) as {
      raceCounter: (threads: number, bumps: number, atomic: boolean) => Promise<number>;
    };
    const racers = Math.max(2, most);
    const bumps = 2_000_000;
    const plain = await raceCounter(racers, bumps, false);
    const atomic = await raceCounter(racers, bumps, true);
    console.log(
      table(
        ['counter', 'threads x bumps', 'final count', 'lost updates'],
        [
          ['counter[0]++', racers * bumps, plain, racers * bumps - plain],
          ['Atomics.add', racers * bumps, atomic, racers * bumps - atomic],
        ],
      ),
    );

    const drained = await drainOnRedis({
      track,
      pool: 'threads',
      concurrency: most,
      task: 'fib',
      args: [n],
      count,
    });
    console.log(
      `Through a worker on Redis (--pool threads --concurrency ${most}): ${drained.stats.succeeded}/${count} succeeded in ${drained.seconds.toFixed(2)} s.`,
    );

    const ok = wrong.length === 0 && atomic === racers * bumps && drained.stats.succeeded === count;
    console.log(
      ok
        ? style.green(
            `All ${outcomes.length} tasks right; ${atCores.workers} threads ran ${faster(atCores.speedup)} than one.`,
          )
        : style.red(
            wrong.length > 0
              ? `${wrong.length} task(s) wrong or failed, e.g. ${JSON.stringify(wrong[0])}`
              : atomic !== racers * bumps
                ? `Atomics.add lost ${racers * bumps - atomic} updates: it must lose none.`
                : `Only ${drained.stats.succeeded}/${count} tasks succeeded through the worker.`,
          ),
    );
    return ok;
  }),
});
