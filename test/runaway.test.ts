/**
 * A runaway task (`for (;;) {}`) with a 1 s time limit, on every pool kind, with real worker processes: at most
 * one worker process is affected, the task ends FAILURE with a readable reason within twice its limit plus the
 * visibility timeout, it runs once (no second worker picks it up), and the work behind it is done.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { POOL_KINDS } from '../mini-queue/pool.ts';
import { Queue } from '../mini-queue/queue.ts';
import { startTimeOf } from './fixtures/runaway-tasks.ts';
import { alive, start } from './helpers/cli.ts';
import { loadNow, loadStretch } from './helpers/load.ts';
import { until, useQueues } from './helpers/queues.ts';

const queues = useQueues('runaway');
const TASKS = 'test/fixtures/runaway-tasks.ts';
const LIMIT_MS = 1000;
// The runaway's lease, renewed until it blocks the thread: the watchdog must fail it within what is left. It is up
// before the first timed task starts (LoopWatchdog.arm: its boot takes 1 to 3 s on a busy machine, and once ran
// while the runaway blocked, so the lease ran out and a second worker ran it again); then it acts at the limit plus
// its grace, 2 s, and the rest is one round trip to Redis.
const VISIBILITY_MS = 5000;
const BEHIND = 20;
const dir = mkdtempSync(join(tmpdir(), 'mq-runaway-'));
const started: ChildProcess[] = [];

afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Whether the process a line of the spin file names still runs (the same one: pids are reused, fast here). */
function stillRuns(line: string): boolean {
  const [pid, , startTime] = line.split(' ');
  return alive(Number(pid)) && startTimeOf(Number(pid)) === startTime && !zombie(Number(pid));
}

/** Killed, not yet reaped by its parent: it runs nothing. */
function zombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Starts a worker process and resolves with it once it has said it serves (its first line). */
function worker(args: string[]): Promise<{ child: ChildProcess; output: () => string }> {
  const child = start(['mini-queue/cli.ts', 'worker', ...args]);
  started.push(child);
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  return new Promise((resolve, reject) => {
    const onData = () => {
      if (!/^worker \d+:/m.test(output)) return;
      child.stdout?.off('data', onData);
      resolve({ child, output: () => output });
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code, signal) => reject(new Error(`worker exited (${code ?? signal}):\n${output}`)));
  });
}

describe('a runaway task with a 1 s time limit', () => {
  it.each(POOL_KINDS)(
    '%s: one worker at most is affected, the task fails readably, the rest is done',
    async (pool) => {
      const name = queues.name();
      const spinFile = join(dir, `${pool}.txt`);
      const args = [
        '--pool',
        pool,
        '-c',
        '2',
        '--queue',
        name,
        '--tasks',
        TASKS,
        '--visibility',
        String(VISIBILITY_MS),
      ];
      const workers = await Promise.all([worker(args), worker(args)]);
      const queue = new Queue({ name });
      try {
        // The bound, with a core to spare; stretched on a busy machine (helpers/load.ts).
        const loadAtStart = loadNow();
        const enqueuedAt = Date.now();
        const runaway = await queue.enqueue('spin', [spinFile], { timeout: LIMIT_MS });
        // Timed too, with room to spare: a blocked worker gives such messages back, it does not fail them.
        const behind = await queue.enqueueMany(
          'nap',
          Array.from({ length: BEHIND }, () => [50]),
          { timeout: 10_000 },
        );

        let failedAt = 0;
        await until(
          async () => {
            const state = await runaway.state();
            failedAt = Date.now();
            return state === 'FAILURE';
          },
          (2 * LIMIT_MS + VISIBILITY_MS) * loadStretch(loadAtStart) + 2000,
        );
        const record = await runaway.info();
        expect(record?.error?.name).toBe('TimeLimitExceeded');
        expect(record?.error?.message).toMatch(/time limit of 1000 ms/);
        expect(
          failedAt - enqueuedAt,
          `FAILURE within twice the limit plus the visibility timeout (× ${loadStretch(loadAtStart).toFixed(1)} for the load)`,
        ).toBeLessThan((2 * LIMIT_MS + VISIBILITY_MS) * loadStretch(loadAtStart));

        await until(async () => (await queue.stats()).succeeded === BEHIND, 30_000);
        for (const handle of behind) expect(await handle.state()).toBe('SUCCESS');
        expect(await queue.stats()).toMatchObject({ waiting: 0, active: 0, succeeded: BEHIND, failed: 1 });

        // It ran once at most: no second worker took it up. (The processes pool counts a fork's start-up against
        // the limit, so on a busy machine its child may be killed before the task starts: then it never ran.)
        const runs = existsSync(spinFile) ? readFileSync(spinFile, 'utf8').trim().split('\n') : [];
        expect(runs.length, 'runs of the runaway').toBe(pool === 'processes' ? Math.min(runs.length, 1) : 1);
        const ranIn = runs[0] === undefined ? undefined : Number(runs[0].split(' ')[0]);
        // Our own children: their exit is known without asking a pid (pids are reused here within seconds).
        const exited = () => workers.filter((w) => w.child.exitCode !== null || w.child.signalCode !== null);
        const onThisThread = pool === 'solo' || pool === 'event-loop' || pool === 'coroutines';
        // The watchdog records the failure, then kills: the exit may come a moment after the FAILURE.
        if (onThisThread) await until(() => exited().length > 0, 5000);
        const dead = exited();
        expect(dead.length, 'worker processes lost').toBeLessThanOrEqual(1);
        if (onThisThread) {
          // On the worker's own thread: its watchdog killed that worker, and only that one.
          expect(dead.map((w) => w.child.pid)).toEqual([ranIn]);
          expect(dead[0]!.child.signalCode).toBe('SIGKILL');
          expect(dead[0]!.output()).toMatch(/watchdog: the event loop of worker \d+ has been blocked/);
        } else {
          // In a thread or a child of its own: the pool stopped it at its limit, and both workers serve on.
          expect(dead).toEqual([]);
          if (pool !== 'threads' && ranIn !== undefined) {
            // Killed at its limit; its exit is seen a moment later (the pool's own reaping, on a busy machine).
            await until(() => !stillRuns(runs[0]!), 5000 * loadStretch(loadAtStart)).catch(() => {});
            expect(stillRuns(runs[0]!), 'the child that ran it').toBe(false);
          }
        }
      } finally {
        await queue.close();
      }
    },
  );
});

describe('the watchdog of a one-thread pool with several lanes', () => {
  const setup = async () => {
    const name = queues.name();
    const args = [
      '--pool',
      'event-loop',
      '-c',
      '2',
      '--queue',
      name,
      '--tasks',
      TASKS,
      '--visibility',
      '3000',
    ];
    return { worker: await worker(args), queue: new Queue({ name }) };
  };

  it('does not kill for a task within its own limit: a neighbour whose limit passed meanwhile fails late', async () => {
    const { worker: w, queue } = await setup();
    try {
      const nap = await queue.enqueue('nap', [3000], { timeout: 300 });
      await until(async () => (await nap.state()) === 'STARTED');
      const busy = await queue.enqueue('busy', [2000], { timeout: 5000 });
      expect(await busy.result({ timeout: 10_000 })).toBe(2000);
      await until(async () => (await nap.state()) === 'FAILURE');
      expect((await nap.info())?.error).toMatchObject({
        name: 'TimeLimitExceeded',
        message: 'time limit of 300 ms exceeded',
      });
      expect(w.child.exitCode ?? w.child.signalCode, 'the worker still runs').toBeNull();
    } finally {
      await queue.close();
    }
  });

  it('kills for the task that blocks past its limit, and fails the neighbour it kept past its own', async () => {
    const { worker: w, queue } = await setup();
    try {
      const nap = await queue.enqueue('nap', [3000], { timeout: 300 });
      await until(async () => (await nap.state()) === 'STARTED');
      const spin = await queue.enqueue('spin', [join(dir, 'lanes.txt')], { timeout: 1000 });
      await until(async () => (await spin.state()) === 'FAILURE', 10_000);
      expect((await spin.info())?.error?.message).toMatch(
        /^the event loop was blocked by this task for \d+ ms, past its time limit of 1000 ms/,
      );
      expect((await nap.info())?.error?.message).toMatch(
        new RegExp(
          `^its time limit of 300 ms passed while the event loop was blocked for \\d+ ms by another task \\(spin ${spin.id}\\)`,
        ),
      );
      await until(() => w.child.signalCode === 'SIGKILL', 5000);
      expect(await queue.stats()).toMatchObject({ waiting: 0, active: 0, failed: 2 });
    } finally {
      await queue.close();
    }
  });
});
