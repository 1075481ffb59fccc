/**
 * The multi-process pool (mini-queue/pools/multi-process.ts): an event-loop or coroutines pool in each of P real
 * child processes, against a real HTTP server. Outcomes right and spread over the children; C split between them;
 * a child killed mid-batch fails what it held as WorkerLostError and is replaced; a child whose event loop a task
 * blocks past its time limit is killed; a warm close drains; a start that cannot succeed rejects with why.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleServer, startExampleServer } from '../mini-queue/examples/server.ts';
import type { TaskCall, TaskOutcome } from '../mini-queue/pool.ts';
import {
  createMultiProcessPool,
  type MultiProcessKind,
  type MultiProcessPool,
} from '../mini-queue/pools/multi-process.ts';
import { loadTasks } from '../mini-queue/tasks.ts';
import { alive } from './helpers/cli.ts';
import { loadNow, loadStretch } from './helpers/load.ts';
import { until } from './helpers/queues.ts';

const TASKS = fileURLToPath(new URL('./fixtures/multi-process-tasks.ts', import.meta.url));
const BREAKABLE = fileURLToPath(new URL('./fixtures/breakable-tasks.ts', import.meta.url));
const registry = await loadTasks(TASKS);
const pools: MultiProcessPool[] = [];
const saved = { server: process.env.MQ_EXAMPLE_SERVER, marker: process.env.MQ_TEST_BREAK_FILE };
let server: ExampleServer;
let loadAtStart = 0;
let n = 0;

beforeAll(async () => {
  loadAtStart = loadNow();
  server = await startExampleServer({ latencyMs: 20 });
  // The children inherit it: their scrapePage goes to this server.
  process.env.MQ_EXAMPLE_SERVER = server.url;
});

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.terminate()));
});

afterAll(async () => {
  for (const [name, value] of [
    ['MQ_EXAMPLE_SERVER', saved.server],
    ['MQ_TEST_BREAK_FILE', saved.marker],
  ] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await server.close();
});

async function open(kind: MultiProcessKind, processes: number, concurrency: number, tasksPath = TASKS) {
  const pool = await createMultiProcessPool({ kind, processes, concurrency, tasksPath, registry });
  pools.push(pool);
  return pool;
}

function call(task: string, args: unknown[], extra: Partial<TaskCall> = {}): TaskCall {
  return { id: `${task}-${n++}`, task, args, attempt: 0, ...extra };
}

/** The most runs at once in `outcomes`, from their own clocks. */
function mostAtOnce(outcomes: TaskOutcome[]): number {
  const edges = outcomes.flatMap((o) => [
    [o.startedAt, 1],
    [o.finishedAt, -1],
  ]);
  // At the same instant an end comes before a start: a slot handed over is not two runs.
  edges.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let now = 0;
  let most = 0;
  for (const [, step] of edges) {
    now += step!;
    most = Math.max(most, now);
  }
  return most;
}

const stretch = () => loadStretch(loadAtStart);

describe('the multi-process pool', () => {
  it.each<MultiProcessKind>(['event-loop', 'coroutines'])(
    '%s in 2 processes: real HTTP outcomes, spread over both children, C split between them, failures as outcomes, a warm close',
    async (kind) => {
      const pool = await open(kind, 2, 8);
      const pids = pool.pids();
      expect(pids).toHaveLength(2);
      const pages = await Promise.all(
        Array.from({ length: 60 }, (_, i) => pool.run(call('scrapePage', [i]))),
      );
      pages.forEach((outcome, i) => {
        expect(outcome.ok ? outcome.value : outcome.error).toEqual({
          url: `${server.url}/page/${i}`,
          title: `Page ${i}`,
          links: 5,
        });
      });
      const lanes = new Set(pages.map((o) => o.lane.split('/')[0]));
      expect([...lanes].sort(), 'both children ran pages').toEqual(pids.map((pid) => `pid-${pid}`).sort());

      const naps = await Promise.all(Array.from({ length: 16 }, () => pool.run(call('nap', [150]))));
      expect(naps.every((o) => o.ok)).toBe(true);
      for (const pid of pids) {
        const own = naps.filter((o) => o.lane.split('/')[0] === `pid-${pid}`);
        expect(own.length, `pid ${pid} ran naps`).toBeGreaterThan(0);
        expect(mostAtOnce(own), `pid ${pid} never runs more than its share, 4`).toBeLessThanOrEqual(4);
      }
      expect(mostAtOnce(naps.filter((o) => o.lane.startsWith(`pid-${pids[0]}`)))).toBe(4);
      // Fewer calls than C: each goes to the child with the fewest in flight, so they split evenly.
      const few = await Promise.all(Array.from({ length: 4 }, () => pool.run(call('nap', [100]))));
      for (const pid of pids) expect(few.filter((o) => o.lane.startsWith(`pid-${pid}`)).length).toBe(2);

      const [unknown, bigint] = await Promise.all([pool.run(call('nope', [])), pool.run(call('bigint', []))]);
      expect(unknown.ok ? unknown.value : unknown.error.message).toMatch(/unknown task 'nope'/);
      expect(bigint.ok ? bigint.value : bigint.error.name).toBe('DataCloneError');

      // close() is warm: what was given finishes, then the children leave.
      const given = Array.from({ length: 6 }, () => pool.run(call('nap', [300])));
      const closed = pool.close();
      expect((await Promise.all(given)).every((o) => o.ok)).toBe(true);
      await closed;
      expect(pids.filter(alive), 'no child left once close() resolved').toEqual([]);
      await expect(pool.run(call('nap', [1]))).rejects.toThrow(`the ${kind} pool is closed`);
    },
  );

  it('a child killed with SIGKILL mid-batch: its calls fail as WorkerLostError, the rest succeed, and a new child takes its place', async () => {
    const pool = await open('event-loop', 2, 10);
    const [victim, survivor] = pool.pids();
    const settled: Array<{ outcome: TaskOutcome; at: number }> = [];
    // 14 calls: each child holds five (C is 10, split in two), four wait in the pool, not in a child.
    const batch = Promise.all(
      Array.from({ length: 14 }, () =>
        pool.run(call('nap', [1500])).then((outcome) => settled.push({ outcome, at: Date.now() })),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(victim!, 'SIGKILL');
    const killedAt = Date.now();
    await batch;
    const lost = settled.filter(({ outcome }) => !outcome.ok);
    expect(lost, 'the killed child held five; what waited in the pool was not lost with it').toHaveLength(5);
    for (const { outcome, at } of lost) {
      expect(outcome.lane).toBe(`pid-${victim}`);
      expect(outcome.ok ? '' : `${outcome.error.name}: ${outcome.error.message}`).toBe(
        `WorkerLostError: pid-${victim} killed by SIGKILL while running nap`,
      );
      expect(at - killedAt, 'failed at the kill, not at the end of the nap').toBeLessThan(1000 * stretch());
    }
    const done = settled.filter(({ outcome }) => outcome.ok);
    expect(done).toHaveLength(9);
    expect(done.slice(0, 5).map(({ outcome }) => outcome.lane)).toEqual(Array(5).fill(`pid-${survivor}`));

    await until(() => pool.pids().length === 2 && !pool.pids().includes(victim!), 10_000 * stretch());
    const fresh = pool.pids().find((pid) => pid !== survivor)!;
    const after = await Promise.all(Array.from({ length: 10 }, () => pool.run(call('nap', [100]))));
    expect(after.every((o) => o.ok)).toBe(true);
    expect(new Set(after.map((o) => o.lane)), 'the new child runs its share').toContain(`pid-${fresh}`);
  });

  it('time limits: an async task past its limit fails in its child; one that blocks the event loop gets its child killed and replaced; terminate() kills', async () => {
    const pool = await open('event-loop', 2, 4);
    const before = pool.pids();
    const late = await pool.run(call('nap', [5000], { timeout: 200 }));
    expect(late.ok ? late.value : `${late.error.name}: ${late.error.message}`).toBe(
      'TimeLimitExceeded: time limit of 200 ms exceeded',
    );
    expect(pool.pids(), 'the inner pool kept its own limit: no child killed').toEqual(before);

    const started = Date.now();
    const spin = await pool.run(call('spin', [], { timeout: 300 }));
    expect(spin.ok ? spin.value : `${spin.error.name}: ${spin.error.message}`).toBe(
      'TimeLimitExceeded: time limit of 300 ms exceeded',
    );
    // The limit, the grace of a second, and at most a check's period.
    expect(Date.now() - started).toBeLessThan((300 + 1000 + 500) * stretch());
    const spinner = Number(spin.lane.replace('pid-', ''));
    expect(before).toContain(spinner);
    await until(() => !alive(spinner), 5000 * stretch());
    await until(() => pool.pids().length === 2 && !pool.pids().includes(spinner), 10_000 * stretch());
    const after = await Promise.all(Array.from({ length: 4 }, () => pool.run(call('nap', [10]))));
    expect(after.every((o) => o.ok)).toBe(true);

    // terminate() is cold: the children are killed now, and what they ran fails.
    const pids = pool.pids();
    const given = Array.from({ length: 5 }, () => pool.run(call('nap', [5000])));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stopping = Date.now();
    await pool.terminate();
    const outcomes = await Promise.all(given);
    expect(Date.now() - stopping).toBeLessThan(2000 * stretch());
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.error.name))).toEqual(Array(5).fill('PoolTerminated'));
    expect(pids.filter(alive)).toEqual([]);
  });

  it('a tasks module that throws at import fails createPool at once, with why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mq-multi-'));
    try {
      const marker = join(dir, 'broken');
      writeFileSync(marker, '');
      process.env.MQ_TEST_BREAK_FILE = marker;
      await expect(open('event-loop', 2, 2, BREAKABLE)).rejects.toThrow(/boom at import/);
    } finally {
      delete process.env.MQ_TEST_BREAK_FILE;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what it cannot run, in one line', async () => {
    await expect(
      createMultiProcessPool({
        kind: 'threads' as MultiProcessKind,
        processes: 2,
        concurrency: 4,
        tasksPath: TASKS,
        registry,
      }),
    ).rejects.toThrow(
      "processes runs an event-loop or coroutines pool in each of N processes: set pool to event-loop or coroutines (got 'threads')",
    );
    await expect(open('event-loop', 0, 4)).rejects.toThrow(
      /processes must be an integer from 1 to \d+ \(4 per core\), got 0/,
    );
    await expect(open('event-loop', 3, 2)).rejects.toThrow('concurrency (2) must be at least processes (3)');
  });
});
