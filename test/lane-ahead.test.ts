/**
 * Calls sent ahead by the lane pool (mini-queue/lane-pool.ts), on real threads (lab 03's reference pool): a lane
 * that dies or is halted while it holds one gives it back, and it runs once on another lane; a lane still runs one
 * call at a time; a time limit counts from when a call begins, not from when it was sent.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Job, Lane } from '../mini-queue/lane-pool.ts';
import { poolFactory } from '../mini-queue/parts.ts';
import type { Pool, TaskCall, TaskOutcome } from '../mini-queue/pool.ts';
import { loadTasks } from '../mini-queue/tasks.ts';

const TASKS = fileURLToPath(new URL('./fixtures/ahead-tasks.ts', import.meta.url));
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Lab 03's reference threads pool on the fixture tasks, and its lanes (the pool's own, read only). */
async function threads(concurrency: number): Promise<{ pool: Pool; lanes: () => Lane[] }> {
  const createPool = await poolFactory('threads', 'solutions');
  const pool = await createPool({ concurrency, tasksPath: TASKS, registry: await loadTasks(TASKS) });
  cleanups.push(() => pool.terminate?.());
  return { pool, lanes: () => [...(pool as unknown as { lanes: Set<Lane> }).lanes] };
}

function markFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mq-ahead-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'runs.txt');
}

let seq = 0;
function call(task: string, args: unknown[], timeout?: number): TaskCall {
  return { id: `${task}-${++seq}`, task, args, attempt: 0, ...(timeout === undefined ? {} : { timeout }) };
}

/** The lane that was sent `c` ahead of the call it runs, if any. */
function holdingAhead(lanes: Lane[], c: TaskCall): Lane | undefined {
  return lanes.find((lane) => lane.ahead.some((job: Job) => job.call.id === c.id));
}

function runs(file: string, tag: string): number {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line === tag).length;
}

describe('calls sent ahead to a busy lane', () => {
  it('a lane that dies holding one gives it back: it runs once, on another thread, and succeeds', async () => {
    const { pool, lanes } = await threads(2);
    const file = markFile();
    const crash = call('crash', [300]);
    const busy = call('hold', [200]);
    const ahead = call('mark', [file, 'ahead']);
    const after = call('mark', [file, 'after']);
    // Both lanes busy, so the next two go ahead, one to each: `ahead` to the lane that is about to die.
    const outcomes = [crash, busy, ahead, after].map((c) => pool.run(c));
    const doomed = lanes().find((lane) => lane.job?.call.id === crash.id);
    expect(holdingAhead(lanes(), ahead), 'sent ahead to the lane that runs crash').toBe(doomed);
    expect(doomed?.job?.call.id, 'lane.job is the call it runs, not the one sent ahead').toBe(crash.id);

    const [lost, held, moved, last] = (await Promise.all(outcomes)) as TaskOutcome[];
    expect(lost).toMatchObject({ ok: false, error: { name: 'WorkerLostError' } });
    expect(held).toMatchObject({ ok: true, value: 200 });
    expect(moved, 'given back, then run elsewhere').toMatchObject({ ok: true });
    expect(moved!.lane, 'not on the thread that died').not.toBe(lost!.lane);
    expect(last).toMatchObject({ ok: true });
    expect(runs(file, 'ahead'), 'ran exactly once').toBe(1);
    expect(runs(file, 'after')).toBe(1);
  }, 30_000);

  it('a lane halted at a time limit gives back what it was sent ahead: it runs once, elsewhere, and succeeds', async () => {
    const { pool, lanes } = await threads(2);
    const file = markFile();
    const runaway = call('spin', [], 400);
    const busy = call('hold', [100]);
    const first = call('mark', [file, 'first']);
    const second = call('mark', [file, 'second']);
    const outcomes = [runaway, busy, first, second].map((c) => pool.run(c));
    // Both lanes busy, one call sent ahead to each.
    const doomed = lanes().find((lane) => lane.job?.call.id === runaway.id)!;
    const held = doomed.ahead[0]!.call;

    const settled = (await Promise.all(outcomes)) as TaskOutcome[];
    expect(settled[0]).toMatchObject({ ok: false, error: { name: 'TimeLimitExceeded' } });
    expect(settled.slice(1).every((o) => o.ok)).toBe(true);
    const moved = settled[[first.id, second.id].indexOf(held.id) + 2]!;
    expect(moved.lane, 'not on the halted thread').not.toBe(settled[0]!.lane);
    expect(runs(file, held.args[1] as string), 'the call held by the halted lane ran once').toBe(1);
    expect(runs(file, 'first') + runs(file, 'second')).toBe(2);
  }, 30_000);

  it('runs one call at a time per lane: the one sent ahead begins after the async one before it ends', async () => {
    const { pool, lanes } = await threads(1);
    const first = call('nap', [200]);
    const second = call('nap', [50]);
    const outcomes = [first, second].map((c) => pool.run(c));
    expect(
      lanes()[0]!.ahead.map((job) => job.call.id),
      'sent ahead',
    ).toEqual([second.id]);
    const [a, b] = (await Promise.all(outcomes)) as TaskOutcome[];
    expect(a!.lane).toBe(b!.lane);
    expect(b!.startedAt, 'no overlap on one lane').toBeGreaterThanOrEqual(a!.finishedAt);
  }, 30_000);

  it('a time limit counts from when the call begins, not from when it was sent ahead', async () => {
    const { pool, lanes } = await threads(1);
    // 800 ms in line behind `before`, then 100 ms of its own: over its 600 ms limit only if counted from the send.
    const before = call('hold', [800]);
    const limited = call('hold', [100], 600);
    const outcomes = [before, limited].map((c) => pool.run(c));
    expect(holdingAhead(lanes(), limited), 'sent ahead').toBeDefined();
    const [, b] = (await Promise.all(outcomes)) as TaskOutcome[];
    expect(b).toMatchObject({ ok: true, value: 100 });
  }, 30_000);
});
