import { expect } from 'vitest';
import { machineFacts } from '../kit/machine.ts';
import { calibrateFib, calls, measureSpeedup } from '../kit/parallel.ts';
import { now } from '../mini-queue/clock.ts';
import { fib } from '../mini-queue/examples/tasks.ts';
import { withLoopHealth } from '../mini-queue/loop-health.ts';
import type { CreatePool } from '../mini-queue/pool.ts';
import { defineTasks, type TaskRegistry } from '../mini-queue/tasks.ts';
import { maxOverlap } from './evidence/overlap.ts';
import { record, recordCurve, recordLoopHealth, recordTimeline, show } from './spec-kit.ts';

/**
 * The contrast for the single-threaded labs (01 event loop, 02 coroutines): the same CPU-bound batch the
 * parallel labs speed up, at C = 1..P + 1. One thread has one core, so the curve stays flat at S ≈ 1 however
 * many tasks run "at once", and the loop is blocked for a whole task at a time. Recorded as `T(p)` (the report
 * draws it beside the parallel labs' curves) with the loop's delay and utilisation.
 *
 * Judged on the tasks' own clocks, which a busy laptop stretches but never reorders: no two runs overlap, and a
 * 1 ms timer never fires while a run computes. The speedup and the loop's delay are recorded, not judged: both
 * are wall-clock ratios a busy machine can skew by luck.
 */
export async function cpuContrast(options: {
  createPool: CreatePool;
  registry: TaskRegistry;
  tasksPath: string;
  lane: string;
}): Promise<void> {
  const cores = machineFacts().cores;
  // At least fib(28) (~4 ms on a quiet laptop): a busy machine can fool the calibration into a size too small to
  // show anything (a 1 ms timer is never due during a 0.3 ms run).
  const n = Math.max(calibrateFib(20).n, 28);
  const workers = Array.from({ length: cores + 1 }, (_, i) => i + 1);
  /** When a 1 ms timer on this thread fired: it can only fire while no task computes. */
  const beats: number[] = [];
  /**
   * Each fib run's own start and end, stamped inside the task around the computation itself (a pool's outcome
   * times include its own bookkeeping, which on one thread may interleave with the next task's start).
   */
  const computed: Array<{ startedAt: number; finishedAt: number }> = [];
  const registry = defineTasks({
    ...options.registry,
    fib(k: number) {
      const startedAt = now();
      const value = fib(k);
      computed.push({ startedAt, finishedAt: now() });
      return value;
    },
  });
  const {
    value: rows,
    delayP99Ms,
    delayMaxMs,
    utilisation,
  } = await withLoopHealth(async () => {
    const beat = setInterval(() => beats.push(now()), 1);
    try {
      return await measureSpeedup({
        createPool: options.createPool,
        options: { registry, tasksPath: options.tasksPath },
        batch: () => calls('fib', [n], 2 * (cores + 1)),
        workers,
        repeats: 1,
      });
    } finally {
      clearInterval(beat);
    }
  });
  for (const row of rows) for (const o of row.outcomes) expect(o.ok, show(o)).toBe(true);
  recordCurve(rows);
  const last = rows.at(-1)!;
  recordTimeline(`CPU-bound fib(${n}) at C = ${last.workers}: one lane, however many at once`, last.spans);
  recordLoopHealth('CPU-bound', { delayP99Ms, utilisation });
  record('loop max delay, CPU-bound', Number(delayMaxMs.toFixed(1)), ' ms');
  // No two CPU-bound runs are ever in progress at the same instant, however many the pool lets start.
  const overlap = maxOverlap(computed);
  const best = Math.max(...rows.map((r) => r.speedup));
  expect(
    overlap,
    `CPU-bound tasks on one ${options.lane}: their own clocks show ${overlap} computing at the same instant (S = ${best.toFixed(2)}); one thread runs one at a time, whatever C is`,
  ).toBe(1);
  // And while one computes, nothing else on the loop runs: not even a timer that is due every millisecond.
  const longest = Math.max(...computed.map((run) => run.finishedAt - run.startedAt));
  const during = beats.filter((at) => computed.some((run) => at > run.startedAt && at < run.finishedAt));
  expect(
    longest,
    `fib(${n}) runs took up to ${longest.toFixed(1)} ms: long enough for a 1 ms timer to be due`,
  ).toBeGreaterThan(2);
  expect(
    during.length,
    `a 1 ms timer fired ${during.length} times while fib(${n}) computed on this thread (longest event-loop delay ${delayMaxMs.toFixed(1)} ms, runs of up to ${longest.toFixed(0)} ms): a CPU-bound task must hold the loop for its whole run`,
  ).toBe(0);
}
