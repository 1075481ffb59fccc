import { expect } from 'vitest';
import { machineFacts } from '../kit/machine.ts';
import { calibrateFib, calls, measureSpeedup } from '../kit/parallel.ts';
import { withLoopHealth } from '../mini-queue/loop-health.ts';
import type { CreatePool } from '../mini-queue/pool.ts';
import type { TaskRegistry } from '../mini-queue/tasks.ts';
import { maxOverlap } from './evidence/overlap.ts';
import { record, recordCurve, recordLoopHealth, recordTimeline, show } from './spec-kit.ts';

/**
 * The contrast for the single-threaded labs (01 event loop, 02 coroutines): the same CPU-bound batch the
 * parallel labs speed up, at C = 1..P + 1. One thread has one core, so the curve stays flat at S ≈ 1 however
 * many tasks run "at once" (no two runs overlap on the tasks' own clocks), and the loop is blocked for a whole
 * task at a time. Recorded as `T(p)` (the report
 * draws it beside the parallel labs' curves) with the loop's delay and utilisation.
 */
export async function cpuContrast(options: {
  createPool: CreatePool;
  registry: TaskRegistry;
  tasksPath: string;
  lane: string;
}): Promise<void> {
  const cores = machineFacts().cores;
  const { n, ms } = calibrateFib(20);
  const workers = Array.from({ length: cores + 1 }, (_, i) => i + 1);
  const {
    value: rows,
    delayP99Ms,
    delayMaxMs,
    utilisation,
  } = await withLoopHealth(() =>
    measureSpeedup({
      createPool: options.createPool,
      options: { registry: options.registry, tasksPath: options.tasksPath },
      batch: () => calls('fib', [n], 2 * (cores + 1)),
      workers,
      repeats: 1,
    }),
  );
  for (const row of rows) for (const o of row.outcomes) expect(o.ok, show(o)).toBe(true);
  recordCurve(rows);
  const last = rows.at(-1)!;
  recordTimeline(`CPU-bound fib(${n}) at C = ${last.workers}: one lane, however many at once`, last.spans);
  recordLoopHealth('CPU-bound', { delayP99Ms, utilisation });
  record('loop max delay, CPU-bound', Number(delayMaxMs.toFixed(1)), ' ms');
  // The evidence is the tasks' own clocks, not the speedup (a busy laptop can make T(1) slow by luck): on one thread
  // no two CPU-bound runs are ever in progress at the same instant, however many the pool lets start.
  const overlap = Math.max(...rows.map((r) => maxOverlap(r.spans)));
  const best = Math.max(...rows.map((r) => r.speedup));
  expect(
    overlap,
    `CPU-bound tasks on one ${options.lane}: their own clocks show ${overlap} computing at the same instant (S = ${best.toFixed(2)}); one thread runs one at a time, whatever C is`,
  ).toBe(1);
  expect(
    delayMaxMs,
    `longest event-loop delay ${delayMaxMs.toFixed(1)} ms while fib(${n}) (~${ms.toFixed(0)} ms) ran on this thread: a CPU-bound task holds the loop for its whole run`,
  ).toBeGreaterThan(ms / 2);
}
