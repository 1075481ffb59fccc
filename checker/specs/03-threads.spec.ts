/**
 * Lab 03 — the threads pool. Graded on the track in MQ_TRACK (`npm run check -- 03 [--solution]`).
 * Each test names the TODO it grades; a task failure carrying a TODO's text is shown as that TODO.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { machineFacts } from '../../kit/machine.ts';
import { calibrateFib, calls, checkSpeedup, measureSpeedup, runBatch } from '../../kit/parallel.ts';
import type { CreatePool, Pool } from '../../mini-queue/pool.ts';
import { loadTasks } from '../../mini-queue/tasks.ts';
import { expectLanesAgain, expectSurvivesKills } from '../chaos-kill.ts';
import {
  call,
  partModule,
  record,
  recordCurve,
  recordTimeline,
  show,
  speedupBar,
  within,
} from '../spec-kit.ts';

const tasksPath = fileURLToPath(new URL('../../kit/fixtures/parallel-tasks.ts', import.meta.url));
const registry = await loadTasks(tasksPath);
const open: Pool[] = [];

async function pool(concurrency: number): Promise<Pool> {
  const { createPool } = await partModule<{ createPool: CreatePool }>('03-threads', 'pool.ts');
  const p = await within(createPool({ concurrency, tasksPath, registry }), 15_000, 'createPool() to resolve');
  open.push(p);
  return p;
}

function osThreads(): number | undefined {
  try {
    return Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
}

afterEach(async () => {
  // A pool whose close() is not written yet must not leave threads running into the next test.
  await Promise.all(
    open.splice(0).map(async (p) => {
      const hard = (p as Pool & { terminate?: () => Promise<void> }).terminate;
      await (hard ? hard.call(p) : within(p.close(), 5000, 'close()').catch(() => {}));
    }),
  );
});

describe('03 threads pool', () => {
  it('03.1 createPool starts the threads, each loading the tasks module', async () => {
    const p = await pool(2);
    expect(p.kind).toBe('threads');
    expect(p.concurrency).toBe(2);
  });

  it('03.2 runs each task in a worker thread, not on the main thread, and returns its value', async () => {
    const p = await pool(2);
    const outcomes = await within(runBatch(p, calls('fibWhere', [20], 4)), 10_000, 'four tasks to finish');
    for (const o of outcomes) {
      expect(o.ok, `the task succeeds (got ${show(o)})`).toBe(true);
      if (!o.ok) continue;
      const value = (o.value ?? {}) as { value?: number; threadId?: number; pid?: number };
      expect(value.value, 'fib(20) = 6765').toBe(6765);
      expect(value.threadId, 'the task ran on the main thread (threadId 0), not in a worker thread').not.toBe(
        0,
      );
      expect(o.lane, 'the lane names the thread that ran it: thread-<threadId>').toBe(
        `thread-${value.threadId}`,
      );
      expect(o.finishedAt).toBeGreaterThanOrEqual(o.startedAt);
    }
  });

  it('03.3 routes every outcome back to its own call by id, failures included', async () => {
    const p = await pool(2);
    const batch = [
      ...[18, 12, 21, 5, 16].map((n) => call('fibWhere', [n])),
      ...[60, 10, 30].map((ms) => call('nap', [ms])),
      call('fib', [-1]),
    ];
    const outcomes = await within(runBatch(p, batch), 10_000, 'nine tasks to finish');
    const fibs = [2584, 144, 10946, 5, 987];
    fibs.forEach((value, i) => {
      const o = outcomes[i]!;
      expect(
        o.ok && (o.value as { value?: number } | null)?.value,
        `call ${i} gets its own result (${show(o)})`,
      ).toBe(value);
    });
    const bad = outcomes.at(-1)!;
    expect(bad.ok, 'a task that throws comes back as a failed outcome, not a rejection').toBe(false);
    if (!bad.ok) expect(bad.error.message).toMatch(/fib\(n\) needs an integer/);
  });

  it('03.3 runs at most `concurrency` tasks at once, on every thread', async () => {
    const p = await pool(2);
    const outcomes = await within(runBatch(p, calls('nap', [150], 6)), 10_000, 'six naps to finish');
    for (const o of outcomes) expect(o.ok, show(o)).toBe(true);
    const lanes = new Set(outcomes.map((o) => o.lane));
    expect(lanes.size, 'both threads ran tasks').toBe(2);
    const spans = outcomes.map((o) => [o.startedAt, o.finishedAt] as const);
    const most = Math.max(...spans.map(([s]) => spans.filter(([a, b]) => a <= s && s < b).length));
    expect(most, 'never more than 2 tasks at once with concurrency 2').toBeLessThanOrEqual(2);
    expect(most, 'two tasks at once: the threads run side by side').toBe(2);
  });

  it('03.4 a thread that crashes fails its own task only, and is replaced', async () => {
    const p = await pool(2);
    // process.exit() on the main thread would end this process: make sure tasks run in threads first.
    const [probe] = await within(runBatch(p, [call('whereAmI')]), 10_000, 'a first task');
    const where = probe?.ok ? (probe.value as { threadId?: number } | null) : undefined;
    expect(
      where?.threadId,
      `tasks must run in worker threads, not on the main thread (${show(probe!)})`,
    ).not.toBe(0);
    const batch = [call('exitLane', [3]), call('throwInTimer'), ...calls('fibWhere', [15], 4)];
    const outcomes = await within(
      runBatch(p, batch),
      10_000,
      'every task to settle after two threads crashed (a task held by a dead thread must fail, never hang)',
    );
    expect(outcomes[0]!.ok, `process.exit() in a task fails that task (${show(outcomes[0]!)})`).toBe(false);
    expect(outcomes[1]!.ok, `an uncaught error in a timer fails that task (${show(outcomes[1]!)})`).toBe(
      false,
    );
    for (const o of outcomes.slice(2)) expect(o.ok, `the other tasks succeed (${show(o)})`).toBe(true);
    await expectLanesAgain(p, 2, 'after two threads crashed (both must be replaced)');
  });

  it('03.4 chaos: threads dying at random moments mid-batch fail their own task only (seeded)', async () => {
    await expectSurvivesKills(await pool(2), 2);
  });

  it('03.5 a runaway task fails at its hard time limit, and its thread is replaced', async () => {
    const p = await pool(1);
    // A runaway on the main thread would block this process for good: no timer could ever fire again.
    const [probe] = await within(runBatch(p, [call('whereAmI')]), 10_000, 'a first task');
    const where = probe?.ok ? (probe.value as { threadId?: number } | null) : undefined;
    expect(
      where?.threadId,
      `tasks must run in worker threads, not on the main thread (${show(probe!)})`,
    ).not.toBe(0);
    const started = Date.now();
    const [runaway] = await within(
      runBatch(p, [call('spin', [], { timeout: 300 })]),
      5000,
      'a task spinning forever to be stopped by its 300 ms time limit',
    );
    expect(runaway!.ok).toBe(false);
    if (!runaway!.ok) expect(runaway!.error.name, show(runaway!)).toBe('TimeLimitExceeded');
    expect(Date.now() - started, 'stopped near its limit').toBeLessThan(3000);
    const [next] = await within(
      runBatch(p, [call('fibWhere', [10])]),
      10_000,
      'the next task, on a new thread (the runaway one must be terminated and replaced)',
    );
    expect(next!.ok, show(next!)).toBe(true);
    expect(next!.lane, 'a new thread, not the terminated one').not.toBe(runaway!.lane);
  });

  it('03.6 close() lets running tasks finish, then stops every thread', async () => {
    const before = osThreads();
    const p = await pool(2);
    const running = runBatch(p, calls('nap', [300], 3));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await within(p.close(), 5000, 'close() to resolve once the tasks are done');
    const outcomes = await running;
    for (const o of outcomes)
      expect(o.ok, `warm close: a task given before close() finishes (${show(o)})`).toBe(true);
    open.splice(open.indexOf(p), 1);
    if (before !== undefined) {
      const deadline = Date.now() + 2000;
      while ((osThreads() ?? 0) > before && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(osThreads(), 'no thread is left running after close()').toBeLessThanOrEqual(before);
    }
  });

  it('03.7 with Atomics.add, threads bumping one shared counter lose no update', async () => {
    const { raceCounter } = await partModule<{
      raceCounter: (threads: number, bumps: number, atomic: boolean) => Promise<number>;
    }>('03-threads', 'counter.ts');
    const bumps = 1_000_000;
    const plain = await within(raceCounter(2, bumps, false), 15_000, 'the plain race to finish');
    record('counter updates lost without Atomics', 2 * bumps - plain);
    const atomic = await within(raceCounter(2, bumps, true), 15_000, 'the atomic race to finish');
    expect(atomic, 'Atomics.add: 2 threads x 1,000,000 bumps = 2,000,000 exactly').toBe(2 * bumps);
  });

  it('03 CPU-bound tasks run faster on P threads: speedup at least 0.6 x P', async () => {
    const cores = machineFacts().cores;
    const { createPool } = await partModule<{ createPool: CreatePool }>('03-threads', 'pool.ts');
    const { n } = calibrateFib(25);
    const result = await checkSpeedup({
      createPool,
      pool: { tasksPath, registry },
      batch: () => calls('fib', [n], 4 * Math.max(cores, 2)),
      workers: cores,
      target: speedupBar(cores, 'S at P threads'),
    });
    for (const o of result.outcomes) expect(o.ok, show(o)).toBe(true);
    record('S at P threads', Number(result.speedup.toFixed(2)));
    recordTimeline(`fib(${n}) on ${cores} threads, the fastest run`, result.outcomes);
    record('E at P threads', Number(result.efficiency.toFixed(2)));
    record('P', cores);
    if (cores < 2) return;
    expect(
      result.speedup,
      `speedup at ${cores} threads: T(1) ${result.t1.toFixed(3)} s / T(${cores}) ${result.tp.toFixed(3)} s = ${result.speedup.toFixed(2)}, expected >= ${speedupBar(cores, 'S at P threads').toFixed(2)}: are the tasks really running in parallel threads?`,
    ).toBeGreaterThanOrEqual(speedupBar(cores, 'S at P threads'));
  });

  it('03 speedup curve from 1 to P + 1 threads (median of 3 runs each)', async () => {
    const cores = machineFacts().cores;
    const { createPool } = await partModule<{ createPool: CreatePool }>('03-threads', 'pool.ts');
    const { n } = calibrateFib(25);
    // The same work at every point (one point past P shows where adding lanes stops paying).
    const workers = Array.from({ length: cores + 1 }, (_, i) => i + 1);
    const rows = await measureSpeedup({
      createPool,
      options: { tasksPath, registry },
      batch: () => calls('fib', [n], 2 * (cores + 1)),
      workers,
    });
    for (const row of rows) for (const o of row.outcomes) expect(o.ok, show(o)).toBe(true);
    recordCurve(rows);
  });
});
