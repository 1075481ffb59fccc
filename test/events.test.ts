/**
 * Task events (issue 19): what a worker publishes on `mq:{queue}:events` for the dashboard, in order per task,
 * batched per turn of the event loop, and nothing with events off. Real Redis, real pools, a real kill -9.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEnvelope, encodeEnvelope } from '../mini-queue/envelope.ts';
import { encodeEvent, eventHead } from '../mini-queue/monitor/encode-event.ts';
import {
  decodeBatch,
  type EventBatch,
  eventsChannel,
  readWorkers,
  subscribeEvents,
  TASK_EVENT_TYPES,
  type TaskEvent,
} from '../mini-queue/monitor/index.ts';
import { Queue } from '../mini-queue/queue.ts';
import { connectRedis } from '../mini-queue/redis/client.ts';
import { Worker } from '../mini-queue/worker.ts';
import { alive, start } from './helpers/cli.ts';
import { until, useQueues } from './helpers/queues.ts';

const queues = useQueues('events');
const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

/** Every batch published on `queue` from now on (subscribed before any worker starts: they ask who listens). */
async function listen(queue: string): Promise<{ batches: EventBatch[]; events: () => TaskEvent[] }> {
  const batches: EventBatch[] = [];
  const close = await subscribeEvents(undefined, queue, (batch) => batches.push(batch));
  stops.push(close);
  return { batches, events: () => batches.flatMap((b) => b.events) };
}

async function startWorker(options: Parameters<typeof Worker.start>[0]): Promise<Worker> {
  const worker = await Worker.start({ fastPath: true, ...options });
  stops.push(() => worker.stop({ cold: true }));
  return worker;
}

async function producer(name: string): Promise<Queue> {
  const queue = new Queue({ name });
  stops.push(() => queue.close());
  return queue;
}

function typesOf(events: TaskEvent[], id: string): string[] {
  return events.filter((e) => e.id === id).map((e) => e.type);
}

describe('task events', () => {
  it('come in order per task (received, started, succeeded), on the lane the heartbeat names, batched', async () => {
    const name = queues.name();
    const seen = await listen(name);
    const worker = await startWorker({ queue: name, pool: 'event-loop', concurrency: 20 });
    const handles = await (await producer(name)).enqueueMany(
      'noop',
      Array.from({ length: 300 }, () => []),
    );
    await until(() => seen.events().filter((e) => e.type === 'succeeded').length === 300, 30_000);
    const events = seen.events();
    expect(events).toHaveLength(900);
    for (const { id } of handles) {
      const mine = events.filter((e) => e.id === id);
      expect(mine.map((e) => e.type)).toEqual(['received', 'started', 'succeeded']);
      const [received, started, succeeded] = mine;
      expect(started!.lane).toMatch(/^slot-([1-9]|1\d|20)$/);
      expect(succeeded!.lane, 'a run ends on the lane it started on').toBe(started!.lane);
      expect(succeeded).toMatchObject({ task: 'noop', attempt: 0 });
      expect(succeeded!.runtimeMs).toBeGreaterThanOrEqual(0);
      expect(received!.at).toBeLessThanOrEqual(started!.at);
    }
    expect(seen.batches.every((b) => b.worker === worker.id)).toBe(true);
    // One PUBLISH per turn of the event loop, not one per event: 300 tasks settle in bursts.
    expect(seen.batches.length).toBeLessThan(900 / 3);
  });

  it('say retried, then failed for good, with the error and the attempt', async () => {
    const name = queues.name();
    const seen = await listen(name);
    await startWorker({ queue: name, pool: 'threads', concurrency: 1, retryBackoffMs: 10 });
    const handle = await (await producer(name)).enqueue('fail', ['no luck'], { maxRetries: 1 });
    await until(() => typesOf(seen.events(), handle.id).includes('failed'), 30_000);
    const mine = seen.events().filter((e) => e.id === handle.id);
    expect(mine.map((e) => `${e.type}@${e.attempt}`)).toEqual([
      'received@0',
      'started@0',
      'retried@0',
      'received@1',
      'started@1',
      'failed@1',
    ]);
    expect(mine[2]!.error).toBe('Error: no luck');
    expect(mine.at(-1)!.error).toBe('Error: no luck');
    expect(mine[1]!.lane).toMatch(/^thread-\d+$/);
  });

  it('say lost when a prefork child dies under a task, which then runs again on another child', async () => {
    const name = queues.name();
    const seen = await listen(name);
    await startWorker({
      queue: name,
      pool: 'prefork',
      concurrency: 2,
      prefork: { rejectOnWorkerLost: true },
    });
    const handle = await (await producer(name)).enqueue('sleep', [1500]);
    await until(() => typesOf(seen.events(), handle.id).includes('started'), 30_000);
    const lane = seen.events().find((e) => e.id === handle.id && e.type === 'started')!.lane!;
    expect(lane).toMatch(/^pid-\d+$/);
    process.kill(Number(lane.slice(4)), 'SIGKILL');
    await handle.result({ timeout: 30_000 });
    await until(() => typesOf(seen.events(), handle.id).includes('succeeded'), 10_000);
    const mine = seen.events().filter((e) => e.id === handle.id);
    expect(mine.map((e) => e.type)).toEqual(['received', 'started', 'lost', 'started', 'succeeded']);
    expect(mine[2]).toMatchObject({
      lane,
      error: expect.stringMatching(/^WorkerLost: pid-\d+ killed by SIGKILL/),
    });
    expect(mine[3]!.lane, 'run again on another child').not.toBe(lane);
  });

  it('say lost when a message comes back from a worker that died holding it', async () => {
    const name = queues.name();
    const seen = await listen(name);
    await startWorker({ queue: name, pool: 'solo' });
    // As recover() gives it back: the envelope marked redelivered (see solutions/00-broker/lua/recover-3.lua).
    const envelope = createEnvelope('noop', []);
    const raw = encodeEnvelope(envelope).replace(/}$/, ',"redelivered":1}');
    const redis = await queues.redis();
    await redis.lpush(`mq:{${name}}:waiting`, raw);
    await until(() => typesOf(seen.events(), envelope.id).includes('succeeded'), 30_000);
    const mine = seen.events().filter((e) => e.id === envelope.id);
    expect(mine.map((e) => e.type)).toEqual(['lost', 'received', 'started', 'succeeded']);
    expect(mine[0]!.error).toMatch(/^WorkerLost: the worker running it died \(once\)/);
    expect(mine[2]!.lane).toBe('main');
  });

  it('are JSON in the documented shape: every event of a published batch decodes', async () => {
    const name = queues.name();
    const raw: string[] = [];
    const subscriber = await connectRedis({ name: 'test-events-raw', autoPipelining: false });
    stops.push(async () => subscriber.disconnect());
    subscriber.on('message', (_channel: string, message: string) => raw.push(message));
    await subscriber.subscribe(eventsChannel(name));
    await startWorker({ queue: name, pool: 'coroutines', concurrency: 5, retryBackoffMs: 10 });
    const queue = await producer(name);
    await queue.enqueueMany('noop', [[], [], []]);
    await queue.enqueue('fail', ['a "quoted" message\nand a line'], { maxRetries: 1 });
    await until(() => raw.some((m) => m.includes('"failed"')), 30_000);
    const allowed = new Set(['type', 'id', 'task', 'attempt', 'lane', 'at', 'runtimeMs', 'error']);
    for (const message of raw) {
      const parsed = JSON.parse(message) as {
        worker: string;
        at: number;
        events: Array<Record<string, unknown>>;
      };
      expect(Object.keys(parsed).sort()).toEqual(['at', 'events', 'worker']);
      expect(decodeBatch(message)!.events, 'none left out as malformed').toHaveLength(parsed.events.length);
      for (const event of parsed.events) {
        expect(
          Object.keys(event).every((k) => allowed.has(k)),
          JSON.stringify(event),
        ).toBe(true);
        expect(TASK_EVENT_TYPES).toContain(event.type);
      }
    }
    const failed = raw.flatMap((m) => decodeBatch(m)!.events).find((e) => e.type === 'failed')!;
    expect(failed.error).toBe('Error: a "quoted" message\nand a line');
    expect(failed.lane).toMatch(/^coroutine-[1-5]$/);
  });

  it('encodes by hand exactly what JSON.stringify would', () => {
    const head = eventHead('id "odd"\\', 'tâche', 2);
    const json = encodeEvent('succeeded', head, 1_795_943_285_215.4, 'thread-3', 12.3456, 'Error: x "y"');
    expect(JSON.parse(json)).toEqual({
      type: 'succeeded',
      id: 'id "odd"\\',
      task: 'tâche',
      attempt: 2,
      at: 1_795_943_285_215,
      lane: 'thread-3',
      runtimeMs: 12.346,
      error: 'Error: x "y"',
    });
    expect(JSON.parse(encodeEvent('received', eventHead('a', 'b', 0), 5))).toEqual({
      type: 'received',
      id: 'a',
      task: 'b',
      attempt: 0,
      at: 5,
    });
  });

  it('with --no-events: nothing is published, and the heartbeat is still there', async () => {
    const name = queues.name();
    const seen = await listen(name);
    const child = start(['mini-queue', 'worker', '--pool', 'event-loop', '--no-events', '--queue', name]);
    stops.push(async () => {
      if (child.pid !== undefined && alive(child.pid)) child.kill('SIGKILL');
    });
    const redis = await queues.redis();
    await until(async () => (await readWorkers(redis, name)).length === 1, 30_000);
    await (await producer(name)).enqueueMany(
      'noop',
      Array.from({ length: 50 }, () => []),
    );
    await until(async () => Number(await redis.hget(`mq:{${name}}:stats`, 'succeeded')) === 50, 30_000);
    await until(async () => (await readWorkers(redis, name))[0]?.done === 50, 10_000);
    expect(seen.batches).toEqual([]);
  });
});
