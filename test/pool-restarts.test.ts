/**
 * A lane pool replaces a lane that dies before it is ready (with a back-off, never a busy loop); a pool that
 * cannot start lanes at all fails createPool() at once with why; and a pool that stops being able to start them
 * under a running worker stops that worker with one line, its messages handed back to the queue.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { poolFactory } from '../mini-queue/parts.ts';
import type { PoolKind } from '../mini-queue/pool.ts';
import { Queue } from '../mini-queue/queue.ts';
import { loadTasks } from '../mini-queue/tasks.ts';
import { alive, start } from './helpers/cli.ts';
import { ageMs, childrenOf } from './helpers/processes.ts';
import { until, useQueues } from './helpers/queues.ts';

const TASKS = fileURLToPath(new URL('./fixtures/breakable-tasks.ts', import.meta.url));
const queues = useQueues('restarts');
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A worker process on `queue`, its output kept; SIGKILLed (with its children) after the test. */
function startWorker(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { proc: ChildProcess; output: () => string } {
  const proc = start(['mini-queue', 'worker', '--tasks', TASKS, ...args], env);
  let output = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  proc.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  cleanups.push(() => {
    const left = childrenOf(proc.pid!);
    proc.kill('SIGKILL');
    for (const pid of left.filter(alive)) process.kill(pid, 'SIGKILL');
  });
  return { proc, output: () => output };
}

function producer(name: string): Queue {
  const queue = new Queue({ name });
  cleanups.push(() => queue.close());
  return queue;
}

/** A file that breaks the tasks module for every process started from now on. */
function breakFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mq-restarts-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'broken');
}

describe('lanes that die before they are ready', () => {
  it('prefork: each new child killed within 100 ms of its start, five in a row, mid-run: every task succeeds, and the worker serves again within seconds', async () => {
    const name = queues.name();
    const queue = producer(name);
    const total = 80;
    const handles = await queue.enqueueMany(
      'nap',
      Array.from({ length: total }, () => [100]),
    );
    // Acks late: the first child is killed under its task, which then runs again, so every task can succeed.
    const worker = startWorker(['--pool', 'prefork', '-c', '2', '--queue', name, '--reject-on-worker-lost']);
    const pid = worker.proc.pid!;
    await until(async () => (await queue.stats()).succeeded >= 10, 30_000);
    const known = new Set(childrenOf(pid, 'child.ts'));
    expect(known.size, 'two children at work').toBe(2);
    process.kill([...known][0]!, 'SIGKILL');
    const ages: number[] = [];
    const killed: number[] = [];
    const deadline = Date.now() + 30_000;
    while (ages.length < 5) {
      expect(Date.now() < deadline, `a replacement child within 30 s (killed ${ages.length} so far)`).toBe(
        true,
      );
      const fresh = childrenOf(pid, 'child.ts').find((child) => !known.has(child));
      if (fresh === undefined) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      known.add(fresh);
      ages.push(ageMs(fresh) ?? 0);
      process.kill(fresh, 'SIGKILL');
      killed.push(fresh);
    }
    const lastKill = Date.now();
    let sixth: number | undefined;
    await until(() => {
      sixth = childrenOf(pid, 'child.ts').find((child) => !known.has(child));
      return sixth !== undefined;
    }, 15_000);
    await until(async () => (await queue.stats()).succeeded >= total, 60_000);
    expect(await queue.stats()).toEqual({
      waiting: 0,
      active: 0,
      delayed: 0,
      succeeded: total,
      failed: 0,
      dead: 0,
    });
    expect(alive(pid), 'the worker is still up').toBe(true);
    const records = await Promise.all(handles.map((handle) => handle.info()));
    // Killed while starting up (aimed at within 100 ms of the fork; a busy machine makes this test's own aim
    // slower, so the evidence is the tasks' records): none of the five ran a task.
    const ranOnKilled = records.filter((record) => killed.some((k) => record?.lane === `pid-${k}`));
    expect(
      ranOnKilled.length,
      `the five children were killed starting up (at ${ages.join(', ')} ms old), before any task ran on them`,
    ).toBe(0);
    const bySixth = records.filter((record) => record?.lane === `pid-${sixth}`);
    expect(bySixth.length, 'the sixth child, left alone, started and ran tasks').toBeGreaterThan(0);
    const servedAfter = Math.min(...bySixth.map((record) => record!.startedAt!)) - lastKill;
    expect(servedAfter, 'the sixth child ran its first task within 10 s of the last kill').toBeLessThan(
      10_000,
    );
    expect(worker.output()).not.toMatch(/warning|before it was ready/);
  }, 120_000);

  it.each<[PoolKind, RegExp]>([
    ['prefork', /exited with code 1 before it was ready/],
    ['threads', /boom at import/],
  ])(
    '%s: a tasks module that throws at import fails createPool() at once, with why',
    async (kind, why) => {
      const marker = breakFile();
      writeFileSync(marker, '');
      const saved = process.env.MQ_TEST_BREAK_FILE;
      process.env.MQ_TEST_BREAK_FILE = marker;
      cleanups.push(() => {
        if (saved === undefined) delete process.env.MQ_TEST_BREAK_FILE;
        else process.env.MQ_TEST_BREAK_FILE = saved;
      });
      const createPool = await poolFactory(kind);
      // The registry of this process does not matter: the lanes import the module themselves, and it throws there.
      const registry = await loadTasks(
        fileURLToPath(new URL('./fixtures/chassis-tasks.ts', import.meta.url)),
      );
      const started = Date.now();
      await expect(
        Promise.resolve(createPool({ concurrency: 2, tasksPath: TASKS, registry })),
      ).rejects.toThrow(why);
      expect(
        Date.now() - started,
        'no retries: the first start that fails is how every start will end',
      ).toBeLessThan(10_000);
    },
    30_000,
  );

  it('prefork: a pool that can no longer start children stops its worker with one line, and its tasks go to a healthy worker', async () => {
    const name = queues.name();
    const queue = producer(name);
    const total = 30;
    await queue.enqueueMany(
      'nap',
      Array.from({ length: total }, () => [200]),
    );
    const marker = breakFile();
    const args = ['--pool', 'prefork', '-c', '1', '--queue', name, '--reject-on-worker-lost'];
    const broken = startWorker(args, { MQ_TEST_BREAK_FILE: marker });
    const pid = broken.proc.pid!;
    const exited = new Promise<number | null>((resolve) => broken.proc.once('close', resolve));
    await until(async () => (await queue.stats()).succeeded >= 3, 30_000);
    // From now on the tasks module throws at import: the child killed next cannot be replaced.
    writeFileSync(marker, '');
    const [child] = childrenOf(pid, 'child.ts');
    process.kill(child!, 'SIGKILL');
    const code = await Promise.race([
      exited,
      new Promise((r) => setTimeout(() => r('still running'), 40_000)),
    ]);
    expect(code, `the worker stops, with a UserError's exit code\n${broken.output()}`).toBe(1);
    const lines = broken.output().split('\n');
    const why = lines.filter((line) => line.includes('cannot start its lanes'));
    expect(why.length, `one line says why\n${broken.output()}`).toBe(1);
    expect(why[0]).toMatch(/8 in a row died before they were ready.*this worker stops/);
    // The children's own stack traces come before (their stderr is the worker's); the worker's last word is that line.
    expect(lines.filter(Boolean).at(-1), 'the worker ends on that line, no stack trace').toBe(why[0]);
    const after = await queue.stats();
    expect(after.active, 'what the worker held is back in the queue at once, not after its lease').toBe(0);
    expect(after.failed).toBe(0);
    expect(after.waiting + after.succeeded).toBe(total);
    rmSync(marker);
    startWorker(args, { MQ_TEST_BREAK_FILE: marker });
    await until(async () => (await queue.stats()).succeeded >= total, 60_000);
    expect(await queue.stats()).toEqual({
      waiting: 0,
      active: 0,
      delayed: 0,
      succeeded: total,
      failed: 0,
      dead: 0,
    });
  }, 120_000);
});
