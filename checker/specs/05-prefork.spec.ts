/**
 * Lab 05 — the prefork pool. Graded on the track in MQ_TRACK (`npm run check -- 05 [--solution]`).
 * Each test names the TODO it grades; a task failure carrying a TODO's text is shown as that TODO.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { machineFacts } from '../../kit/machine.ts';
import { calibrateFib, calls, checkSpeedup, measureSpeedup, runBatch } from '../../kit/parallel.ts';
import type { CreatePool, Pool, TaskOutcome } from '../../mini-queue/pool.ts';
import { tsChildExecArgv } from '../../mini-queue/runtime/typescript.ts';
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
  trackUnderTest,
  within,
} from '../spec-kit.ts';

const tasksPath = fileURLToPath(new URL('../../kit/fixtures/parallel-tasks.ts', import.meta.url));
const parentFixture = fileURLToPath(new URL('../fixtures/lab05-parent.ts', import.meta.url));
const registry = await loadTasks(tasksPath);

type PreforkPool = Pool & { pids(): number[]; terminate?: () => Promise<void> };
const open: PreforkPool[] = [];
/** Every child pid a test saw: none may be left alive when the spec ends. */
const seen = new Set<number>();

async function pool(concurrency: number, extra: Record<string, unknown> = {}): Promise<PreforkPool> {
  const { createPool } = await partModule<{ createPool: CreatePool }>('05-prefork', 'pool.ts');
  const p = (await within(
    createPool({ concurrency, tasksPath, registry, ...extra }),
    20_000,
    'createPool() to resolve',
  )) as PreforkPool;
  open.push(p);
  for (const pid of p.pids()) seen.add(pid);
  return p;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return pids.filter(alive);
}

function pidOf(o: TaskOutcome): number {
  return Number(/^pid-(\d+)$/.exec(o.lane)?.[1]);
}

afterEach(async () => {
  await Promise.all(
    open.splice(0).map(async (p) => {
      for (const pid of p.pids()) seen.add(pid);
      await (p.terminate ? p.terminate() : within(p.close(), 5000, 'close()').catch(() => {}));
    }),
  );
  // Whatever a wrong pool left behind must not outlive the check.
  for (const pid of await gone([...seen], 1000)) process.kill(pid, 'SIGKILL');
  seen.clear();
});

describe('05 prefork pool', () => {
  it('05.1 createPool forks N children ahead of any task', async () => {
    const p = await pool(2);
    expect(p.kind).toBe('prefork');
    const pids = p.pids();
    expect(pids.length, 'two children, started before any task').toBe(2);
    for (const pid of pids) expect(alive(pid), `child ${pid} is running`).toBe(true);
  });

  it('05.2 runs tasks in the children, reusing them (no process per task)', async () => {
    const p = await pool(2);
    const before = p.pids();
    const outcomes = await within(runBatch(p, calls('fibWhere', [20], 8)), 15_000, 'eight tasks to finish');
    for (const o of outcomes) {
      expect(o.ok, `the task succeeds (got ${show(o)})`).toBe(true);
      if (!o.ok) continue;
      const value = (o.value ?? {}) as { value?: number; pid?: number };
      expect(value.value, 'fib(20) = 6765').toBe(6765);
      expect(value.pid, 'the task ran in the pool’s own process, not in a child').not.toBe(process.pid);
      expect(o.lane, 'the lane names the child that ran it: pid-<pid>').toBe(`pid-${value.pid}`);
      expect(before, 'tasks run in the children started ahead, reused').toContain(value.pid);
    }
  });

  it('05.2 routes every outcome back to its own call by id, failures included', async () => {
    const p = await pool(2);
    const batch = [
      ...[18, 12, 21, 5].map((n) => call('fibWhere', [n])),
      call('nap', [40]),
      call('fib', [-1]),
    ];
    const outcomes = await within(runBatch(p, batch), 15_000, 'six tasks to finish');
    [2584, 144, 10946, 5].forEach((value, i) => {
      const o = outcomes[i]!;
      expect(
        o.ok && (o.value as { value?: number } | null)?.value,
        `call ${i} gets its own result (${show(o)})`,
      ).toBe(value);
    });
    const bad = outcomes.at(-1)!;
    expect(bad.ok, 'a task that throws comes back as a failed outcome').toBe(false);
    if (!bad.ok) expect(bad.error.message).toMatch(/fib\(n\) needs an integer/);
  });

  it('05.3 a child killed with kill -9 mid-task: its task fails (not lost, not a success), a new child replaces it', async () => {
    const p = await pool(2);
    const victim = p.pids()[0]!;
    const running = runBatch(p, calls('nap', [1500], 2));
    await new Promise((r) => setTimeout(r, 400));
    process.kill(victim, 'SIGKILL');
    const outcomes = await within(
      running,
      10_000,
      'both tasks to settle after a child was killed (never hang)',
    );
    const failed = outcomes.filter((o) => !o.ok);
    expect(
      failed.length,
      `the killed child's task must be reported failed, not a success (reported before it ran?): ${outcomes.map(show).join('; ')}`,
    ).toBe(1);
    expect(outcomes.filter((o) => o.ok).length, 'the other child’s task succeeds').toBe(1);
    const after = await expectLanesAgain(p, 2, 'after a child was killed (it must be replaced)');
    expect(after.map(pidOf), 'the killed child runs nothing').not.toContain(victim);
    for (const pid of p.pids()) seen.add(pid);
  });

  it('05.3 with rejectOnWorkerLost, the task of a killed child runs again on its replacement', async () => {
    const p = await pool(1, { rejectOnWorkerLost: true });
    const victim = p.pids()[0]!;
    const running = runBatch(p, [call('nap', [800])]);
    await new Promise((r) => setTimeout(r, 300));
    process.kill(victim, 'SIGKILL');
    const [outcome] = await within(running, 8000, 'the redelivered task to finish (on a replacement child)');
    expect(outcome!.ok, `acks late: redelivered, then succeeded (${show(outcome!)})`).toBe(true);
    expect(pidOf(outcome!), 'it ran again on a new child').not.toBe(victim);
  });

  it('05.3 chaos: children killed at random moments mid-batch fail their own task only (seeded)', async () => {
    const p = await pool(2);
    const outcomes = await expectSurvivesKills(p, 2);
    for (const o of outcomes) if (/^pid-\d+$/.test(o.lane)) seen.add(pidOf(o));
    for (const pid of p.pids()) seen.add(pid);
  });

  it('05.4 recycles a child after exactly maxTasksPerChild tasks', async () => {
    const p = await pool(1, { maxTasksPerChild: 3 });
    const outcomes: TaskOutcome[] = [];
    for (let i = 0; i < 7; i++) {
      outcomes.push(...(await within(runBatch(p, [call('whereAmI')]), 15_000, `task ${i + 1} of 7`)));
    }
    for (const o of outcomes) expect(o.ok, show(o)).toBe(true);
    const pids = outcomes.map(pidOf);
    const runs = pids.reduce<number[]>((acc, pid, i) => {
      if (i > 0 && pid === pids[i - 1]) acc[acc.length - 1]!++;
      else acc.push(1);
      return acc;
    }, []);
    expect(
      runs,
      `maxTasksPerChild 3: 7 tasks run 3, 3, 1 on three children in turn (pids ${pids.join(', ')})`,
    ).toEqual([3, 3, 1]);
    expect(await gone([pids[0]!], 3000), 'a recycled child exits').toEqual([]);
  });

  it('05 a runaway task fails at its hard time limit; its child is killed and replaced', async () => {
    const p = await pool(1);
    const [probe] = await within(runBatch(p, [call('whereAmI')]), 10_000, 'a first task');
    expect(
      probe!.ok && (probe!.value as { pid?: number } | null)?.pid,
      `tasks must run in a child: a runaway here would block this process for good (${show(probe!)})`,
    ).not.toBe(process.pid);
    const started = Date.now();
    const [runaway] = await within(
      runBatch(p, [call('spin', [], { timeout: 300 })]),
      5000,
      'a task spinning forever to be stopped by its 300 ms time limit',
    );
    expect(runaway!.ok).toBe(false);
    if (!runaway!.ok) expect(runaway!.error.name, show(runaway!)).toBe('TimeLimitExceeded');
    expect(Date.now() - started, 'stopped near its limit').toBeLessThan(3000);
    expect(await gone([pidOf(runaway!)], 3000), 'the runaway’s child was killed').toEqual([]);
    const [next] = await within(
      runBatch(p, [call('whereAmI')]),
      8000,
      'the next task, on a new child (the killed one must be replaced)',
    );
    expect(next!.ok, show(next!)).toBe(true);
  });

  it('05.6 children exit when their parent dies, even by kill -9 (no orphans)', async () => {
    const parent = spawn(process.execPath, [...tsChildExecArgv(), parentFixture], {
      env: { ...process.env, MQ_TRACK: trackUnderTest() },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let pids: number[] = [];
    try {
      pids = await within(
        new Promise<number[]>((resolve, reject) => {
          let text = '';
          parent.stdout!.on('data', (chunk: Buffer) => {
            text += chunk.toString();
            const line = /\{"pids":[^\n]*\}/.exec(text)?.[0];
            if (line) resolve((JSON.parse(line) as { pids: number[] }).pids);
          });
          parent.on('exit', (code) => reject(new Error(`the parent exited early (code ${code})`)));
        }),
        20_000,
        'a parent with a prefork pool to start',
      );
      for (const pid of pids) seen.add(pid);
      expect(pids.length).toBe(2);
    } finally {
      parent.kill('SIGKILL');
    }
    const survivors = await gone(pids, 5000);
    expect(
      survivors,
      "children outlived their parent's kill -9 by 5 s: orphans (watch the IPC channel's 'disconnect' and exit)",
    ).toEqual([]);
  });

  it('05 close() lets running tasks finish, then no child is left', async () => {
    const p = await pool(2);
    const running = runBatch(p, calls('nap', [300], 3));
    await new Promise((r) => setTimeout(r, 50));
    const pids = p.pids();
    await within(p.close(), 10_000, 'close() to resolve once the tasks are done');
    open.splice(open.indexOf(p), 1);
    for (const o of await running)
      expect(o.ok, `warm close: a task given before close() finishes (${show(o)})`).toBe(true);
    expect(await gone(pids, 2000), 'every child has exited after close()').toEqual([]);
  });

  it('05 CPU-bound tasks run faster on P children: speedup at least 0.6 x P', async () => {
    const cores = machineFacts().cores;
    const { createPool } = await partModule<{ createPool: CreatePool }>('05-prefork', 'pool.ts');
    const { n } = calibrateFib(25);
    const result = await checkSpeedup({
      createPool,
      pool: { tasksPath, registry },
      batch: () => calls('fib', [n], 4 * Math.max(cores, 2)),
      workers: cores,
      target: speedupBar(cores, 'S at P children'),
    });
    for (const o of result.outcomes) expect(o.ok, show(o)).toBe(true);
    record('S at P children', Number(result.speedup.toFixed(2)));
    recordTimeline(`fib(${n}) on ${cores} prefork children, the fastest run`, result.outcomes);
    record('E at P children', Number(result.efficiency.toFixed(2)));
    if (cores < 2) return;
    expect(
      result.speedup,
      `speedup at ${cores} children: T(1) ${result.t1.toFixed(3)} s / T(${cores}) ${result.tp.toFixed(3)} s = ${result.speedup.toFixed(2)}, expected >= ${speedupBar(cores, 'S at P children').toFixed(2)}`,
    ).toBeGreaterThanOrEqual(speedupBar(cores, 'S at P children'));
  });

  it('05 speedup curve from 1 to P + 1 children (median of 3 runs each)', async () => {
    const cores = machineFacts().cores;
    const { createPool } = await partModule<{ createPool: CreatePool }>('05-prefork', 'pool.ts');
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
