/**
 * Section 3: CPU speedup. The same CPU-bound task (fib, sized to ~30 ms on this machine) through the threads,
 * processes-per-task and prefork pools (the reference of labs 03-05) and through piscina, at 1..P workers.
 * Start-up is not timed (a worker pays it once), except for processes-per-task, where a fork and a Node start-up
 * per task is the very thing being measured; it gets fewer tasks (one per core instead of six) to keep the run
 * short, and the same fib, so its efficiency shows what that start-up costs. For each pool, the pools of every worker
 * count stay warm side by side and run in turns, so outside load hits all of them alike; medians are taken.
 */

import { calibrateFib, calls, runBatch } from '../kit/parallel.ts';
import { analyse } from '../kit/speedup.ts';
import { fib } from '../mini-queue/examples/tasks.ts';
import type { PiscinaOutcome } from '../mini-queue/runtime/piscina-task.ts';
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

export async function runCpu(cores: number, runs: number): Promise<CpuResult> {
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
      const seconds = samples.map(summarize);
      const medians = analyse(workerCounts.map((workers, i) => ({ workers, seconds: seconds[i]!.median })));
      const best = analyse(
        workerCounts.map((workers, i) => ({ workers, seconds: Math.min(...samples[i]!) })),
      );
      pools[kind] = medians.points.map(({ workers, speedup, efficiency }, i) => ({
        workers,
        seconds: seconds[i]!,
        speedup,
        efficiency,
        bestEfficiency: best.points[i]!.efficiency,
      }));
    } finally {
      await Promise.all(runners.map((r) => r.close()));
    }
  }
  const processStartupMs = (pools.processes[0]!.seconds.median * 1000) / tasks.processes - ms;
  return { fib: { n, ms }, tasks, runs, pools, processStartupMs };
}

/** A pool's point at P workers (all the cores): the one the rows and the targets judge. */
export function atP(result: CpuResult, kind: CpuPool): CpuPoint {
  return result.pools[kind].at(-1)!;
}

export function cpuRows(result: CpuResult): Row[] {
  const piscina = atP(result, 'piscina');
  return (['threads', 'prefork', 'processes'] as const).map((kind) => {
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
}
