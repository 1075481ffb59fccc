/**
 * `npx tsx mini-queue worker --pool event-loop --processes 2`, end to end: a real worker process on Redis whose
 * pool runs in two child processes. The tasks (real HTTP GETs) succeed, their results are in Redis, both children
 * ran some, and a SIGTERM stops the worker warm with its children; a kill -9 leaves no child behind either. A
 * misused flag is one line.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleServer, startExampleServer } from '../mini-queue/examples/server.ts';
import { Queue } from '../mini-queue/queue.ts';
import { alive, run, start } from './helpers/cli.ts';
import { loadNow, loadStretch } from './helpers/load.ts';
import { childrenOf } from './helpers/processes.ts';
import { until, useQueues } from './helpers/queues.ts';

const queues = useQueues('multi-process');
const cleanups: Array<() => Promise<void> | void> = [];
let server: ExampleServer;
let loadAtStart = 0;

beforeAll(async () => {
  loadAtStart = loadNow();
  server = await startExampleServer({ latencyMs: 20 });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(() => server.close());

function startWorker(args: string[]): { proc: ChildProcess; output: () => string } {
  const proc = start(['mini-queue', 'worker', ...args], { MQ_EXAMPLE_SERVER: server.url });
  let output = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  proc.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  cleanups.push(() => {
    const left = childrenOf(proc.pid!);
    if (alive(proc.pid!)) proc.kill('SIGKILL');
    for (const pid of left.filter(alive)) process.kill(pid, 'SIGKILL');
  });
  return { proc, output: () => output };
}

describe('a worker with --processes', () => {
  it('runs its tasks in two child processes: results in Redis, both children at work, a warm stop takes them along', async () => {
    const stretch = () => loadStretch(loadAtStart);
    const name = queues.name();
    const queue = new Queue({ name });
    cleanups.push(() => queue.close());
    const total = 200;
    const handles = await queue.enqueueMany(
      'scrapePage',
      Array.from({ length: total }, (_, i) => [i]),
    );
    const worker = startWorker(['--pool', 'event-loop', '--processes', '2', '-c', '40', '--queue', name]);
    const pid = worker.proc.pid!;
    await until(
      () => /^worker \d+: pool event-loop x40 in 2 processes/m.test(worker.output()),
      20_000 * stretch(),
    );
    const children = childrenOf(pid, 'multi-process-child');
    expect(children, 'two children of the worker').toHaveLength(2);

    const values = await Promise.all(handles.map((handle) => handle.result({ timeout: 20_000 * stretch() })));
    values.forEach((value, i) => {
      expect(value).toEqual({ url: `${server.url}/page/${i}`, title: `Page ${i}`, links: 5 });
    });
    expect(await queue.stats()).toMatchObject({ waiting: 0, active: 0, succeeded: total, failed: 0 });
    const lanes = new Set(
      (await Promise.all(handles.map((handle) => handle.info()))).map((info) => info?.lane),
    );
    expect([...lanes].sort(), 'the children ran them, both').toEqual(
      children.map((child) => `pid-${child}`).sort(),
    );

    const exited = new Promise<number | null>((resolve) => worker.proc.once('close', resolve));
    worker.proc.kill('SIGTERM');
    expect(await exited, worker.output()).toBe(0);
    expect(worker.output()).toMatch(new RegExp(`stopped: ${total} succeeded, 0 failed`));
    expect(worker.output()).not.toMatch(/warning/);
    await until(() => children.every((child) => !alive(child)), 5000 * stretch());
  });

  it('its children do not outlive a worker killed with kill -9', async () => {
    const stretch = () => loadStretch(loadAtStart);
    const name = queues.name();
    const queue = new Queue({ name });
    cleanups.push(() => queue.close());
    const worker = startWorker(['--pool', 'coroutines', '--processes', '2', '-c', '10', '--queue', name]);
    await until(
      () => /^worker \d+: pool coroutines x10 in 2 processes/m.test(worker.output()),
      20_000 * stretch(),
    );
    const children = childrenOf(worker.proc.pid!, 'multi-process-child');
    expect(children).toHaveLength(2);
    // Mid-task: each child holds requests in flight when its parent dies.
    await queue.enqueueMany(
      'scrapePage',
      Array.from({ length: 50 }, (_, i) => [i]),
    );
    await until(async () => (await queue.stats()).succeeded > 0, 10_000 * stretch());
    worker.proc.kill('SIGKILL');
    await until(() => children.every((child) => !alive(child)), 5000 * stretch());
  });

  it('refuses --processes with a pool that runs one task per lane, in one line', async () => {
    const ran = await run(['mini-queue', 'worker', '--pool', 'threads', '--processes', '2']);
    expect(ran.code).toBe(1);
    expect(ran.stderr.trim()).toBe(
      "--processes runs an event-loop or coroutines pool in each of N processes: set --pool to event-loop or coroutines (got 'threads')",
    );
  });
});
