/**
 * Task events (issue 19): what a worker publishes on `mq:{queue}:events` for the dashboard, in order per task,
 * batched (at most one PUBLISH per 50 ms), and nothing with events off. Real Redis, real pools, a real kill -9.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEnvelope, encodeEnvelope } from '../mini-queue/envelope.ts';
import { EventBatchBuilder, wireHead } from '../mini-queue/monitor/batch-builder.ts';
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
    // 300 at once may be past TASKS_PER_BATCH (256) in one batch: a task is then left out whole, and counted.
    const skipped = () => seen.batches.reduce((sum, b) => sum + b.skipped, 0);
    const succeeded = () => seen.events().filter((e) => e.type === 'succeeded').length;
    await until(() => succeeded() + skipped() === 300, 30_000);
    const events = seen.events();
    expect(events).toHaveLength(3 * succeeded());
    expect(succeeded(), 'the first 256 new tasks of a batch are followed').toBeGreaterThanOrEqual(256);
    for (const { id } of handles) {
      const mine = events.filter((e) => e.id === id);
      if (mine.length === 0) continue;
      expect(mine.map((e) => e.type)).toEqual(['received', 'started', 'succeeded']);
      const [received, started, succeeded] = mine;
      expect(started!.lane).toMatch(/^slot-([1-9]|1\d|20)$/);
      expect(succeeded!.lane, 'a run ends on the lane it started on').toBe(started!.lane);
      expect(succeeded).toMatchObject({ task: 'noop', attempt: 0 });
      expect(succeeded!.runtimeMs).toBeGreaterThanOrEqual(0);
      expect(received!.at).toBeLessThanOrEqual(started!.at);
    }
    expect(seen.batches.every((b) => b.worker === worker.id)).toBe(true);
    // Batched, not one PUBLISH per event: 300 tasks settle in bursts.
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

  it('are JSON in the documented shape (WireBatch): every record of a published batch decodes', async () => {
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
    await until(
      () => raw.some((m) => (decodeBatch(m)?.events ?? []).some((e) => e.type === 'failed')),
      30_000,
    );
    let records = 0;
    for (const message of raw) {
      const parsed = JSON.parse(message) as { v: number; worker: string; at: number; e: unknown[][] };
      expect(Object.keys(parsed).sort()).toEqual(['at', 'e', 'v', 'worker']);
      expect(parsed.v).toBe(2);
      const events = decodeBatch(message)!.events;
      // Each record stands for one to three events, and none is left out as malformed.
      expect(events.length).toBeGreaterThanOrEqual(parsed.e.length);
      expect(new Set(events.map((e) => `${e.id}@${e.attempt}`)).size).toBe(
        new Set(parsed.e.map((r) => `${r[1]}@${r[3]}`)).size,
      );
      for (const record of parsed.e) {
        expect(record.length, JSON.stringify(record)).toBeGreaterThanOrEqual(5);
        expect(record.length, JSON.stringify(record)).toBeLessThanOrEqual(10);
        expect(TASK_EVENT_TYPES[record[0] as number]).toBeDefined();
        records++;
      }
    }
    // 3 no-ops and 2 attempts of `fail`, 3 events each, in fewer records: the collapse happened.
    expect(records).toBeLessThan(15);
    const failed = raw.flatMap((m) => decodeBatch(m)!.events).find((e) => e.type === 'failed')!;
    expect(failed.error).toBe('Error: a "quoted" message\nand a line');
    expect(failed.lane).toMatch(/^coroutine-[1-5]$/);
  });

  it("collapse a task's events of one batch into one record, and decode back to each event as it was", () => {
    const builder = new EventBatchBuilder();
    const odd = { id: 'id "odd"\\', task: 'tâche', attempt: 2 };
    const plain = { id: 'b', task: 'noop', attempt: 0 };
    const at = 1_795_943_285_215;
    builder.add('received', odd, at - 10.4);
    builder.add('received', plain, at - 9);
    builder.add('started', odd, at - 8, 'thread-3');
    builder.add('succeeded', odd, at - 2, 'thread-3', 12.3456, 'Error: x "y"');
    builder.add('started', plain, at - 1, 'thread-1');
    // Another run of `plain` on another lane: a record of its own.
    builder.add('lost', plain, at, 'thread-1', undefined, 'WorkerLost: thread-1 exited');
    builder.add('started', plain, at + 1, 'thread-2');
    const message = builder.take(wireHead('w:1:abc'), at).toString();
    const wire = JSON.parse(message) as { e: unknown[][] };
    expect(wire.e).toHaveLength(4);
    const batch = decodeBatch(message)!;
    expect(batch).toMatchObject({ worker: 'w:1:abc', at });
    const oddEvents = { id: 'id "odd"\\', task: 'tâche', attempt: 2 };
    const plainEvents = { id: 'b', task: 'noop', attempt: 0 };
    expect(batch.events).toEqual([
      { type: 'received', ...oddEvents, at: at - 10 },
      { type: 'started', ...oddEvents, lane: 'thread-3', at: at - 8 },
      {
        type: 'succeeded',
        ...oddEvents,
        lane: 'thread-3',
        at: at - 2,
        runtimeMs: 12.346,
        error: 'Error: x "y"',
      },
      { type: 'received', ...plainEvents, at: at - 9 },
      { type: 'started', ...plainEvents, lane: 'thread-1', at: at - 1 },
      { type: 'lost', ...plainEvents, lane: 'thread-1', at, error: 'WorkerLost: thread-1 exited' },
      { type: 'started', ...plainEvents, lane: 'thread-2', at: at + 1 },
    ]);
    // Emptied: the next batch starts afresh, and a ref from the last one collapses into nothing of it.
    builder.add('succeeded', plain, at + 5, 'thread-2', 3);
    const next = decodeBatch(builder.take(wireHead('w:1:abc'), at + 50).toString())!;
    expect(next.events).toEqual([
      { type: 'succeeded', ...plainEvents, lane: 'thread-2', at: at + 5, runtimeMs: 3 },
    ]);
  });

  it('follow at most TASKS_PER_BATCH new tasks a batch: the rest are counted, followed ones end, failures all go', () => {
    const cap = 3;
    const builder = new EventBatchBuilder(cap);
    const at = 1_795_943_285_215;
    // A worker's MonitorRun starts with batch 0: never followed yet.
    const runs = Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, task: 'noop', attempt: 0, batch: 0 }));
    for (const run of runs) builder.add('received', run, at - 9);
    for (const run of runs) builder.add('started', run, at - 8, `slot-${run.id}`);
    // t4 fails: its failure goes out although t4 was left out; t5 succeeds, still left out.
    builder.add('failed', runs[4]!, at - 5, 'slot-t4', 1, 'Error: boom');
    builder.add('succeeded', runs[5]!, at - 5, 'slot-t5', 1);
    const first = decodeBatch(builder.take(wireHead('w:1:abc'), at).toString())!;
    expect(new Set(first.events.map((e) => e.id))).toEqual(new Set(['t0', 't1', 't2', 't4']));
    expect(first.events.filter((e) => e.id === 't4').map((e) => e.type)).toEqual(['failed']);
    expect(first.skipped, 't3, t4 and t5 were left out; each counts once').toBe(3);
    // Next batch: the followed tasks end in it, whatever the cap; t3's success stays left out.
    const late = Array.from({ length: cap }, (_, i) => ({ id: `n${i}`, task: 'noop', attempt: 0, batch: 0 }));
    for (const run of late) builder.add('received', run, at + 1);
    for (const run of runs.slice(0, 4)) builder.add('succeeded', run, at + 2, `slot-${run.id}`, 1);
    const second = decodeBatch(builder.take(wireHead('w:1:abc'), at + 50).toString())!;
    expect(second.events.filter((e) => e.type === 'succeeded').map((e) => e.id)).toEqual(['t0', 't1', 't2']);
    expect(second.events.filter((e) => e.type === 'received').map((e) => e.id)).toEqual(['n0', 'n1', 'n2']);
    expect(second.skipped).toBe(0);
    expect(JSON.parse(builder.take(wireHead('w'), at).toString())).not.toHaveProperty('s');
  });

  it('still decode the batches of older workers (one JSON object per event)', () => {
    const event = { type: 'received', id: 'a', task: 'b', attempt: 0, at: 5 };
    const old = JSON.stringify({ worker: 'w', at: 5, events: [event, { type: 'nonsense' }] });
    expect(decodeBatch(old)!.events).toEqual([event]);
  });

  it('leave out the records that do not fit, and keep the rest', () => {
    const good = [2, 'a', 'noop', 0, -1, 'slot-1', null, -3, 0.5];
    const wire = JSON.stringify({
      v: 2,
      worker: 'w',
      at: 100,
      e: [
        ['length', 'x', 'noop', 0, 0],
        [9, 'x', 'noop', 0, 0],
        [0, 7, 'noop', 0, 0],
        [1, 'x', 'noop', 0],
        'junk',
        good,
      ],
    });
    expect(decodeBatch(wire)!.events).toEqual([
      { type: 'started', id: 'a', task: 'noop', attempt: 0, lane: 'slot-1', at: 97 },
      { type: 'succeeded', id: 'a', task: 'noop', attempt: 0, lane: 'slot-1', at: 99, runtimeMs: 0.5 },
    ]);
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
