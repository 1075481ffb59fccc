/**
 * The worker's fast path (`fastPath: true`): reserveReady() moves a batch from waiting to active, leases included,
 * in one Lua script (mini-queue/lua/reserve-batch-3.lua). It must keep every guarantee of lab 00's BLMOVE reserve:
 * first in, first out; nothing ever only in a worker's memory; a worker killed with a batch reserved loses none of
 * it. Off (the default), a worker reserves only through the broker's own reserve().
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type FastBroker, isFastBroker } from '../mini-queue/fast-broker.ts';
import { openBroker } from '../mini-queue/parts.ts';
import { Queue } from '../mini-queue/queue.ts';
import { Worker } from '../mini-queue/worker.ts';
import { start } from './helpers/cli.ts';
import { until, useQueues } from './helpers/queues.ts';

const FIXTURE_TASKS = fileURLToPath(new URL('./fixtures/chassis-tasks.ts', import.meta.url));
const queues = useQueues('batch-reserve');
const cleanup: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});

async function broker(name: string, visibilityMs = 30_000): Promise<FastBroker> {
  const b = await openBroker({ queue: name, visibilityMs });
  cleanup.push(() => b.close());
  if (!isFastBroker(b)) throw new Error('the reference broker has the fast path (it is built on BrokerBase)');
  return b;
}

/**
 * Counts the worker's calls to reserveReady() (and those that took more than one message) and to reserve(), from
 * now on: the worker's first call has already gone out.
 */
function countReserves(worker: Worker): { ready: number; batches: number; reserves: number } {
  const counts = { ready: 0, batches: 0, reserves: 0 };
  const b = worker.broker as FastBroker;
  const ready = b.reserveReady.bind(b);
  b.reserveReady = async (max) => {
    counts.ready++;
    const taken = await ready(max);
    if (taken.length > 1) counts.batches++;
    return taken;
  };
  const reserve = b.reserve.bind(b);
  b.reserve = (max, blockMs) => {
    counts.reserves++;
    return reserve(max, blockMs);
  };
  return counts;
}

describe('reserveReady: a batch in one atomic step', () => {
  it('takes the oldest first, leases every one, and returns [] on an empty queue', async () => {
    const name = queues.name();
    const b = await broker(name, 5000);
    const raws = Array.from({ length: 10 }, (_, i) => JSON.stringify({ n: i }));
    await b.push(raws.slice(0, 5));
    await b.push(raws.slice(5));
    const before = Date.now();
    const taken = await b.reserveReady(4);
    expect(taken, 'first in, first out, as BLMOVE RIGHT hands them out').toEqual(raws.slice(0, 4));
    const redis = await queues.redis();
    expect(await redis.lrange(b.keys.waiting, 0, -1)).toEqual(raws.slice(4).reverse());
    expect((await redis.lrange(b.keys.active, 0, -1)).sort()).toEqual(taken.slice().sort());
    for (const raw of taken) {
      const lease = Number(await redis.zscore(b.keys.leases, raw));
      expect(lease, 'a lease of one visibility timeout').toBeGreaterThanOrEqual(before + 5000);
      expect(lease).toBeLessThanOrEqual(Date.now() + 5000);
    }
    expect(await b.reserveReady(100)).toEqual(raws.slice(4));
    expect(await b.reserveReady(100), 'nothing ready: the worker waits in reserve()').toEqual([]);
    expect(await redis.llen(b.keys.active)).toBe(10);
    expect(await redis.zcard(b.keys.leases)).toBe(10);
  });

  it('a busy worker reserves through it, in batches, and runs every task once', async () => {
    const name = queues.name();
    const queue = new Queue({ name });
    cleanup.push(() => queue.close());
    await queue.enqueueMany(
      'add',
      Array.from({ length: 300 }, (_, i) => [i, 1]),
    );
    const worker = await Worker.start({
      queue: name,
      pool: 'event-loop',
      concurrency: 20,
      tasksPath: FIXTURE_TASKS,
      fastPath: true,
    });
    cleanup.push(() => worker.stop());
    const counts = countReserves(worker);
    await worker.untilSettled(300, 20_000);
    expect(counts.batches, 'batches of more than one message').toBeGreaterThan(0);
    expect(await queue.stats()).toMatchObject({ succeeded: 300, failed: 0, waiting: 0, active: 0 });
  });

  it('without fastPath (the default) a worker reserves only through the broker’s own reserve()', async () => {
    const name = queues.name();
    const queue = new Queue({ name });
    cleanup.push(() => queue.close());
    await queue.enqueueMany(
      'add',
      Array.from({ length: 100 }, (_, i) => [i, 1]),
    );
    const worker = await Worker.start({
      queue: name,
      pool: 'event-loop',
      concurrency: 20,
      tasksPath: FIXTURE_TASKS,
    });
    cleanup.push(() => worker.stop());
    const counts = countReserves(worker);
    await worker.untilSettled(100, 20_000);
    expect(counts.ready, 'no call to reserveReady()').toBe(0);
    expect(counts.reserves, 'every message came through reserve()').toBeGreaterThan(0);
    expect(await queue.stats()).toMatchObject({ succeeded: 100, failed: 0, waiting: 0, active: 0 });
  });
});

describe('two reserve loops (fast path, 8 slots or more: see Stream in mini-queue/worker.ts)', () => {
  it('a burst after an idle spell fills every slot, not only the first loop’s half', async () => {
    const name = queues.name();
    const queue = new Queue({ name });
    cleanup.push(() => queue.close());
    // Idle first: the first loop waits in the blocking reserve, the second for a message to come to the first.
    const worker = await Worker.start({ queue: name, pool: 'event-loop', concurrency: 8, fastPath: true });
    cleanup.push(() => worker.stop());
    await new Promise((resolve) => setTimeout(resolve, 300));
    await queue.enqueueMany(
      'sleep',
      Array.from({ length: 8 }, () => [600]),
    );
    const runs = await worker.untilSettled(8, 20_000);
    // The tasks' own clocks: how many ran at one moment, whatever the load stretched.
    const mostAtOnce = Math.max(
      ...runs.map((r) => runs.filter((o) => o.startedAt <= r.startedAt && r.startedAt < o.finishedAt).length),
    );
    expect(mostAtOnce, `8 slots, 8 sleeps of 600 ms: ${mostAtOnce} ran at once`).toBe(8);
  });

  it('hold no more than the slots between them, and run every task once', async () => {
    const name = queues.name();
    const queue = new Queue({ name });
    cleanup.push(() => queue.close());
    await queue.enqueueMany(
      'add',
      Array.from({ length: 2000 }, (_, i) => [i, 1]),
    );
    const worker = await Worker.start({
      queue: name,
      pool: 'event-loop',
      concurrency: 10,
      tasksPath: FIXTURE_TASKS,
      fastPath: true,
    });
    cleanup.push(() => worker.stop());
    let most = 0;
    const sampling = setInterval(() => {
      most = Math.max(most, worker.holding);
    }, 1);
    const runs = await worker.untilSettled(2000, 30_000).finally(() => clearInterval(sampling));
    expect(most, 'messages held at once').toBeLessThanOrEqual(10);
    expect(new Set(runs.map((r) => r.id)).size, 'each task once').toBe(2000);
    expect(await queue.stats()).toMatchObject({ succeeded: 2000, failed: 0, waiting: 0, active: 0 });
  });
});

describe('at least once with batch reserve', () => {
  it('a worker killed with a batch reserved loses none of it after the visibility timeout', async () => {
    const name = queues.name();
    const queue = new Queue({ name });
    cleanup.push(() => queue.close());
    await queue.enqueueMany(
      'slow',
      Array.from({ length: 40 }, () => [3000]),
    );
    // A worker process with 40 free slots and a full queue: reserveReady takes all 40 in one step. It is killed
    // while they run, without a word.
    const child = start([
      'mini-queue',
      'worker',
      '--pool',
      'event-loop',
      '--concurrency',
      '40',
      '--queue',
      name,
      '--visibility',
      '1000',
      '--tasks',
      FIXTURE_TASKS,
    ]);
    cleanup.push(async () => child.kill('SIGKILL'));
    await until(async () => (await queue.stats()).active === 40, 20_000);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const b = await broker(name);
    const redis = await queues.redis();
    expect(await redis.zcard(b.keys.leases), 'every reserved message has its lease').toBe(40);
    expect(await queue.stats()).toMatchObject({ waiting: 0, active: 40, succeeded: 0 });
    // Their leases run out; a new worker gives them back and runs each once.
    const replacement = await Worker.start({
      queue: name,
      pool: 'event-loop',
      concurrency: 40,
      tasksPath: FIXTURE_TASKS,
      visibilityMs: 600,
      blockMs: 100,
    });
    cleanup.push(() => replacement.stop());
    const runs = await replacement.untilSettled(40, 20_000);
    expect(runs.every((r) => r.state === 'SUCCESS')).toBe(true);
    expect(await queue.stats()).toMatchObject({ succeeded: 40, failed: 0, waiting: 0, active: 0, dead: 0 });
  });
});
