/**
 * Section 3: CPU speedup. The same CPU-bound task (fib, sized to ~30 ms on this machine) through the threads,
 * processes-per-task and prefork pools (the reference of labs 03-05) and through piscina, at 1..P workers.
 * Start-up is not timed (a worker pays it once), except for processes-per-task, where a fork and a Node start-up
 * per task is the very thing being measured; it gets fewer tasks (one per core instead of six) to keep the run
 * short, and the same fib, so its efficiency shows what that start-up costs. For each pool, the pools of every worker
 * count stay warm side by side and run in turns, so outside load hits all of them alike; medians are taken.
 *
 * With Celery installed, also Celery's `-P prefork -O fair` at 1..P children, warm workers in turns the same
 * way, its fib sized to ~30 ms in Python (a smaller n: the same time, not the same n). Its time is the makespan of
 * each batch from the tasks' own clocks (first start to last end, inside the children), so its broker's round
 * trips before the first task and after the last are left out; ours is the batch's wall time in the parent.
 */

import { calibrateFib, calls, runBatch } from '../kit/parallel.ts';
import { analyse } from '../kit/speedup.ts';
import { fib } from '../mini-queue/examples/tasks.ts';
import type { PiscinaOutcome } from '../mini-queue/runtime/piscina-task.ts';
import type { CeleryDriver } from './peers/celery.ts';
import { kitPool, piscinaPool } from './pools.ts';
import { fmt, pct, type Row, type Summary, since, spreads, summarize } from './stats.ts';

export const CPU_POOLS = ['threads', 'prefork', 'processes', 'piscina'] as const;
export type CpuPool = (typeof CPU_POOLS)[number];

export interface CpuPoint {
  workers: number;
  seconds: Summary;
  speedup: number;
  efficiency: number;
  /**
   * The same from the best run of each worker count: on a shared machine noise only ever adds time, so this is
   * closer to what the pool can do; the median (above) is what the targets are judged on.
   */
  bestEfficiency: number;
}

export interface CpuResult {
  fib: { n: number; ms: number };
  /** Tasks per batch, by pool. */
  tasks: Record<CpuPool, number>;
  runs: number;
  pools: Record<CpuPool, CpuPoint[]>;
  /** processes-per-task: what a task costs beyond its fib, ms (fork, Node + tsx start-up, tasks module import). */
  processStartupMs: number;
  /** Celery's prefork pool at 1..P children, when Celery is installed. */
  celery?: { fib: { n: number; ms: number }; tasks: number; points: CpuPoint[] };
  /** Why the Celery rows are missing, when they are. */
  celerySkipped?: string;
}

interface Runner {
  /** Runs `count` fib(n) tasks at once and checks every value. */
  batch(count: number): Promise<void>;
  close(): Promise<void>;
}

async function runner(kind: CpuPool, workers: number, n: number): Promise<Runner> {
  const expected = fib(n);
  const check = (values: unknown[]) => {
    const wrong = values.find((v) => v !== expected);
    if (wrong !== undefined) throw new Error(`${kind}: fib(${n}) gave ${JSON.stringify(wrong)}`);
  };
  if (kind === 'piscina') {
    const piscina = piscinaPool(workers);
    return {
      async batch(count) {
        const outcomes = await Promise.all(
          Array.from(
            { length: count },
            () => piscina.run({ task: 'fib', args: [n] }) as Promise<PiscinaOutcome>,
          ),
        );
        check(outcomes.map((o) => o.value));
      },
      close: () => piscina.close(),
    };
  }
  const pool = await kitPool(kind, workers);
  return {
    async batch(count) {
      const outcomes = await runBatch(pool, calls('fib', [n], count));
      check(outcomes.map((o) => (o.ok ? o.value : o.error.message)));
    },
    close: () => pool.close(),
  };
}

/** Median and best-run speedup and efficiency of batches timed at each worker count. */
function points(workerCounts: number[], samples: number[][]): CpuPoint[] {
  const seconds = samples.map(summarize);
  const medians = analyse(workerCounts.map((workers, i) => ({ workers, seconds: seconds[i]!.median })));
  const best = analyse(workerCounts.map((workers, i) => ({ workers, seconds: Math.min(...samples[i]!) })));
  return medians.points.map(({ workers, speedup, efficiency }, i) => ({
    workers,
    seconds: seconds[i]!,
    speedup,
    efficiency,
    bestEfficiency: best.points[i]!.efficiency,
  }));
}

/** Celery's prefork at 1..P children, warm, in turns; `tasks` fib tasks of ~30 ms a batch. */
async function celeryPrefork(
  driver: CeleryDriver,
  workerCounts: number[],
  tasks: number,
  runs: number,
): Promise<NonNullable<CpuResult['celery']>> {
  const fib = await driver.calibrate(30);
  const names = workerCounts.map((k) => `prefork-${k}`);
  try {
    for (const [i, name] of names.entries()) {
      await driver.startWorker(name, { pool: 'prefork', concurrency: workerCounts[i]! });
    }
    for (const [i, name] of names.entries()) await driver.batch(name, 'fib', [fib.n], workerCounts[i]!);
    const samples = workerCounts.map(() => [] as number[]);
    for (let run = 0; run < runs; run++) {
      for (const [i, name] of names.entries()) {
        samples[i]!.push((await driver.batch(name, 'fib', [fib.n], tasks)).seconds);
      }
    }
    return { fib, tasks, points: points(workerCounts, samples) };
  } finally {
    for (const name of names) await driver.stopWorker(name).catch(() => {});
  }
}

export async function runCpu(
  cores: number,
  runs: number,
  celery?: { driver: CeleryDriver; log: (line: string) => void },
): Promise<CpuResult> {
  const { n, ms } = calibrateFib(30);
  const workerCounts = Array.from({ length: cores }, (_, i) => i + 1);
  const tasks = { threads: 6 * cores, prefork: 6 * cores, piscina: 6 * cores, processes: cores };
  const pools = {} as Record<CpuPool, CpuPoint[]>;
  for (const kind of CPU_POOLS) {
    const runners = await Promise.all(workerCounts.map((w) => runner(kind, w, n)));
    try {
      const count = tasks[kind];
      for (const [i, r] of runners.entries()) await r.batch(workerCounts[i]!); // warm-up: one task per worker
      const samples = workerCounts.map(() => [] as number[]);
      for (let run = 0; run < runs; run++) {
        for (const [i, r] of runners.entries()) {
          const started = performance.now();
          await r.batch(count);
          samples[i]!.push(since(started));
        }
      }
      pools[kind] = points(workerCounts, samples);
    } finally {
      await Promise.all(runners.map((r) => r.close()));
    }
  }
  const processStartupMs = (pools.processes[0]!.seconds.median * 1000) / tasks.processes - ms;
  const result: CpuResult = { fib: { n, ms }, tasks, runs, pools, processStartupMs };
  if (celery) {
    try {
      result.celery = await celeryPrefork(celery.driver, workerCounts, tasks.prefork, runs);
    } catch (error) {
      // A Celery that fails here costs its row, not the section.
      result.celerySkipped = (error as Error).message;
      celery.log(`   Celery rows of section 3 skipped: ${result.celerySkipped}`);
    }
  }
  return result;
}

/** A pool's point at P workers (all the cores): the one the rows and the targets judge. */
export function atP(result: CpuResult, kind: CpuPool): CpuPoint {
  return result.pools[kind].at(-1)!;
}

export function cpuRows(result: CpuResult): Row[] {
  const piscina = atP(result, 'piscina');
  const rows = (['threads', 'prefork', 'processes'] as const).map((kind) => {
    const point = atP(result, kind);
    const note =
      kind === 'processes'
        ? `; ${result.tasks.processes} tasks, +${fmt(result.processStartupMs)} ms start-up each`
        : '';
    return {
      section: '3 CPU',
      measure: `${kind}: E at P=${point.workers} (S=${point.speedup.toFixed(2)}, best-run E ${pct(point.bestEfficiency)}${note})`,
      ours: pct(point.efficiency),
      theirs: `piscina ${pct(piscina.efficiency)}`,
      ratio: point.efficiency / piscina.efficiency,
      spread: spreads(result.pools[kind][0]!.seconds, point.seconds),
    };
  });
  if (result.celery) {
    const ours = atP(result, 'prefork');
    const theirs = result.celery.points.at(-1)!;
    rows.push({
      section: '3 CPU',
      measure:
        `prefork vs Celery -P prefork -O fair: E at P=${theirs.workers} (Celery S=${theirs.speedup.toFixed(2)}, ` +
        `best-run E ${pct(theirs.bestEfficiency)}; fib(${result.celery.fib.n}) ${fmt(result.celery.fib.ms)} ms in Python)`,
      ours: pct(ours.efficiency),
      theirs: `Celery ${pct(theirs.efficiency)}`,
      ratio: ours.efficiency / theirs.efficiency,
      spread: spreads(result.celery.points[0]!.seconds, theirs.seconds),
    });
  }
  return rows;
}
