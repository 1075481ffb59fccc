/**
 * What the parallel labs' demos (03 threads, 04 processes, 05 prefork) share: a CPU-bound task sized for this
 * machine, speedup runs at 1..P workers, their table, and a drain through a real worker on Redis.
 */
import { fib } from '../mini-queue/examples/tasks.ts';
import { Queue, type QueueStats } from '../mini-queue/index.ts';
import type { Track } from '../mini-queue/parts.ts';
import type { CreatePool, Pool, PoolKind, PoolOptions, TaskCall, TaskOutcome } from '../mini-queue/pool.ts';
import { Worker } from '../mini-queue/worker.ts';
import { dropThrowaways, throwaway } from './throwaway.ts';
import { table } from './ui/table.ts';
import type { Span } from './ui/timeline.ts';

/** The smallest n for which fib(n) takes at least `targetMs` on this thread, and how long it took. */
export function calibrateFib(targetMs: number): { n: number; ms: number } {
  fib(20); // warm the JIT so the first timings are not of the interpreter
  for (let n = 20; n < 40; n++) {
    const started = performance.now();
    fib(n);
    const ms = performance.now() - started;
    if (ms >= targetMs) return { n, ms };
  }
  return { n: 40, ms: Number.NaN };
}

export interface SpeedupRow {
  workers: number;
  /** Wall time of the whole batch (median of the repeats), s. */
  seconds: number;
  /** T(1) / T(p). */
  speedup: number;
  /** speedup / p. */
  efficiency: number;
  /** The median run's tasks, for a timeline. */
  spans: Span[];
  outcomes: TaskOutcome[];
  /** Every run (warm-up included) in which a task failed, whole: a lane killed from outside shows up here. */
  incidents: TaskOutcome[][];
}

export interface SpeedupRun {
  createPool: CreatePool;
  options: Omit<PoolOptions, 'concurrency'>;
  /** A fresh batch of calls for one run. */
  batch: () => TaskCall[];
  workers: number[];
  /** Runs per worker count; the median counts. @default 3 */
  repeats?: number;
}

/**
 * For each worker count: start the pool (start-up is not timed: a worker pays it once), one warm-up batch, then
 * `repeats` timed batches; the median is reported. Speedups are against the first worker count's time.
 */
export async function measureSpeedup(run: SpeedupRun): Promise<SpeedupRow[]> {
  const rows: SpeedupRow[] = [];
  for (const workers of run.workers) {
    const pool = await run.createPool({ ...run.options, concurrency: workers });
    try {
      const incidents: TaskOutcome[][] = [];
      const warm = await runBatch(pool, run.batch().slice(0, workers));
      if (warm.some((o) => !o.ok)) incidents.push(warm);
      const timed: Array<{ seconds: number; outcomes: TaskOutcome[] }> = [];
      for (let r = 0; r < (run.repeats ?? 3); r++) {
        const started = performance.now();
        const outcomes = await runBatch(pool, run.batch());
        timed.push({ seconds: (performance.now() - started) / 1000, outcomes });
        if (outcomes.some((o) => !o.ok)) incidents.push(outcomes);
      }
      timed.sort((a, b) => a.seconds - b.seconds);
      const median = timed[Math.floor(timed.length / 2)]!;
      const base = rows[0]?.seconds ?? median.seconds;
      const speedup = base / median.seconds;
      rows.push({
        workers,
        seconds: median.seconds,
        speedup,
        efficiency: speedup / workers,
        spans: median.outcomes.map((o) => ({
          lane: o.lane,
          startedAt: o.startedAt,
          finishedAt: o.finishedAt,
        })),
        outcomes: median.outcomes,
        incidents,
      });
    } finally {
      await pool.close();
    }
  }
  return rows;
}

/** Gives the whole batch to the pool at once, as a worker with free slots would. */
export function runBatch(pool: Pool, calls: TaskCall[]): Promise<TaskOutcome[]> {
  return Promise.all(calls.map((call) => pool.run(call)));
}

/** `count` calls of one task, with fresh ids. */
export function calls(
  task: string,
  args: unknown[],
  count: number,
  extra: Partial<TaskCall> = {},
): TaskCall[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${task}-${i}-${Math.random().toString(36).slice(2, 8)}`,
    task,
    args,
    attempt: 0,
    ...extra,
  }));
}

/** `1.84x faster` or `0.90x slower`: a speedup below 1 is a slowdown, and says so. */
export function faster(speedup: number): string {
  return speedup >= 1 ? `${speedup.toFixed(2)}x faster` : `${(1 / speedup).toFixed(2)}x slower`;
}

/** The speedup table every parallel demo prints. */
export function speedupTable(rows: SpeedupRow[], tasks: number, label = 'workers'): string {
  return table(
    [label, 'seconds', 'speedup S', 'efficiency E', 'tasks/s'],
    rows.map((r) => [
      r.workers,
      r.seconds.toFixed(3),
      r.speedup.toFixed(2),
      `${Math.round(r.efficiency * 100)}%`,
      (tasks / r.seconds).toFixed(1),
    ]),
  );
}

/** The first task failure whose text names a TODO: the demo shows it as guidance instead of a wrong table. */
export function throwIfTodo(outcomes: TaskOutcome[]): void {
  for (const o of outcomes) {
    if (!o.ok && /TODO\(\d\d\.\d+\)/.test(o.error.message)) throw new Error(o.error.message);
  }
}

/**
 * The same pool behind a real worker on Redis: enqueue `count` tasks on a throw-away queue, drain them, report.
 * That is how the pool runs in production: `npx tsx mini-queue worker --pool KIND`.
 */
export async function drainOnRedis(options: {
  track: Track;
  pool: PoolKind;
  concurrency: number;
  task: string;
  args: unknown[];
  count: number;
  tasksPath?: string;
}): Promise<{ seconds: number; stats: QueueStats }> {
  const name = throwaway(`lab-${options.pool}-${process.pid}`);
  const queue = new Queue({ name });
  let worker: Worker | undefined;
  try {
    await queue.enqueueMany(
      options.task,
      Array.from({ length: options.count }, () => options.args),
    );
    const started = performance.now();
    worker = await Worker.start({
      queue: name,
      pool: options.pool,
      concurrency: options.concurrency,
      track: { pool: options.track },
      blockMs: 200,
      ...(options.tasksPath ? { tasksPath: options.tasksPath } : {}),
    });
    // Rejects with the pool's error (a TODO not done) if the worker stops before the batch is drained.
    await worker.untilSettled(options.count);
    const seconds = (performance.now() - started) / 1000;
    await worker.stop();
    return { seconds, stats: await queue.stats() };
  } finally {
    await worker?.stop({ cold: true });
    await queue.close();
    await dropThrowaways([name]);
  }
}

export interface SpeedupCheck {
  /** Best wall time of the batch on 1 worker and on p workers, s. */
  t1: number;
  tp: number;
  speedup: number;
  efficiency: number;
  rounds: number;
  /** The best p-worker run's tasks, for a timeline or a lane count. */
  outcomes: TaskOutcome[];
}

/**
 * Speedup at p workers for a check, robust to a shared, noisy machine: a 1-worker and a p-worker pool stay warm
 * side by side (idle lanes use no CPU) and run the batch in turns, so a burst of outside load hits both alike;
 * the best time of each counts (noise only ever adds time). Stops after `minRounds` once `target` is reached, or
 * when `budgetMs` is spent. No amount of retrying makes a pool without parallelism reach S = 1.2.
 */
export async function checkSpeedup(options: {
  createPool: CreatePool;
  pool: Omit<PoolOptions, 'concurrency'>;
  batch: () => TaskCall[];
  workers: number;
  target: number;
  minRounds?: number;
  budgetMs?: number;
  /**
   * One untimed batch on each pool first. @default true. A pool that starts a process per task keeps nothing warm
   * from one batch to the next: its warm-up is a batch of forks paid for nothing.
   */
  warmUp?: boolean;
}): Promise<SpeedupCheck> {
  const one = await options.createPool({ ...options.pool, concurrency: 1 });
  let many: Pool | undefined;
  try {
    many = await options.createPool({ ...options.pool, concurrency: options.workers });
    if (options.warmUp !== false) {
      await Promise.all([runBatch(one, options.batch().slice(0, 1)), runBatch(many, options.batch())]);
    }
    const deadline = Date.now() + (options.budgetMs ?? 8000);
    let t1 = Number.POSITIVE_INFINITY;
    let tp = Number.POSITIVE_INFINITY;
    let outcomes: TaskOutcome[] = [];
    let rounds = 0;
    while (rounds < (options.minRounds ?? 3) || (t1 / tp < options.target && Date.now() < deadline)) {
      rounds++;
      let started = performance.now();
      await runBatch(one, options.batch());
      t1 = Math.min(t1, (performance.now() - started) / 1000);
      started = performance.now();
      const results = await runBatch(many, options.batch());
      const seconds = (performance.now() - started) / 1000;
      if (seconds < tp) {
        tp = seconds;
        outcomes = results;
      }
    }
    const speedup = t1 / tp;
    return { t1, tp, speedup, efficiency: speedup / options.workers, rounds, outcomes };
  } finally {
    await Promise.all([one.close(), many?.close()]);
  }
}
