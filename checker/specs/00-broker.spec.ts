/**
 * Lab 00 — the broker. Graded on the track in MQ_TRACK (`npm run check -- 00 [--solution]`).
 * Each test names the TODO it grades: the report shows the first failing one with its hint.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker, ResultRecord } from '../../mini-queue/broker.ts';
import { createEnvelope, encodeEnvelope } from '../../mini-queue/envelope.ts';
import { openBroker } from '../../mini-queue/parts.ts';
import { connectRedis } from '../../mini-queue/redis/client.ts';
import { Worker } from '../../mini-queue/worker.ts';
import { monitorRedis } from '../monitor.ts';
import { chaosRandom, chaosSeedOfRun, cleanQueues, trackUnderTest, uniqueQueue } from '../spec-kit.ts';

const track = trackUnderTest();
const queues: string[] = [];
const open: Broker[] = [];

async function broker(visibilityMs = 30_000): Promise<Broker> {
  const name = uniqueQueue('00');
  queues.push(name);
  const b = await openBroker({ queue: name, visibilityMs }, track);
  open.push(b);
  return b;
}

function messages(n: number, task = 'noop'): string[] {
  return Array.from({ length: n }, (_, i) => encodeEnvelope(createEnvelope(task, [i])));
}

function record(raw: string, state: 'SUCCESS' | 'FAILURE' = 'SUCCESS'): ResultRecord {
  const e = JSON.parse(raw) as { id: string; task: string; enqueuedAt: number };
  return { id: e.id, task: e.task, state, attempt: 0, enqueuedAt: e.enqueuedAt, result: 42 };
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
  await cleanQueues(queues.splice(0));
});

describe('00.1 push', () => {
  it('00.1 puts messages on the waiting list, first in first out', async () => {
    const b = await broker();
    const raws = messages(3);
    await b.push(raws);
    const redis = await connectRedis();
    const listed = await redis.lrange(b.keys.waiting, 0, -1);
    redis.disconnect();
    expect(listed, 'the waiting list holds the pushed messages').toHaveLength(3);
    // Workers take from the right: the first pushed must be the rightmost.
    expect(listed.at(-1), 'first in, first out: the first message pushed must be the first taken').toBe(
      raws[0],
    );
  });
});

describe('00.2 reserve', () => {
  it('00.2 moves a message from waiting to active and gives it a lease', async () => {
    const b = await broker(5000);
    const [raw] = messages(1);
    await b.push([raw!]);
    const before = Date.now();
    const taken = await b.reserve(1, 1000);
    expect(taken, 'reserve returns the message').toEqual([raw]);
    const redis = await connectRedis();
    const [waiting, active, lease] = await Promise.all([
      redis.llen(b.keys.waiting),
      redis.lrange(b.keys.active, 0, -1),
      redis.zscore(b.keys.leases, raw!),
    ]);
    redis.disconnect();
    expect(waiting, 'the message left the waiting list').toBe(0);
    expect(active, 'the message is in the in-flight (active) list: no worker crash can lose it').toEqual([
      raw,
    ]);
    expect(lease, 'the message has a lease in the leases set').not.toBeNull();
    expect(Number(lease)).toBeGreaterThanOrEqual(before + 4000);
    expect(Number(lease)).toBeLessThanOrEqual(Date.now() + 5000);
  });

  it('00.2 moves atomically: one BLMOVE/LMOVE (or script), never a pop and a separate push', async () => {
    const b = await broker();
    await b.push(messages(2));
    // MONITOR shows every command Redis runs: a pop followed by a push is a window in which a crash loses the
    // message, even though the end state looks the same.
    const seen: string[] = [];
    const monitor = await monitorRedis((args) => {
      if (args.some((a) => a === b.keys.waiting)) seen.push(String(args[0]).toUpperCase());
    });
    await new Promise((r) => setTimeout(r, 50));
    await b.reserve(2, 500);
    await new Promise((r) => setTimeout(r, 100));
    monitor.close();
    const atomic = new Set(['BLMOVE', 'LMOVE', 'BRPOPLPUSH', 'RPOPLPUSH', 'EVAL', 'EVALSHA', 'FCALL']);
    const taking = seen.filter(
      (command) => command !== 'LLEN' && command !== 'LRANGE' && command !== 'LPUSH',
    );
    expect(taking.length, 'reserve touched the waiting list').toBeGreaterThan(0);
    expect(
      taking.filter((command) => !atomic.has(command)),
      'reserve must move messages atomically (BLMOVE), not pop them and push them to active afterwards',
    ).toEqual([]);
  });

  it('00.2 takes messages in the order they were pushed', async () => {
    const b = await broker();
    const raws = messages(5);
    await b.push(raws);
    const taken: string[] = [];
    while (taken.length < 5) taken.push(...(await b.reserve(5 - taken.length, 500)));
    expect(taken, 'first in, first out').toEqual(raws);
  });

  it('00.2 waits up to blockMs on an empty queue, then returns nothing', async () => {
    const b = await broker();
    const started = Date.now();
    const taken = await b.reserve(1, 300);
    const waited = Date.now() - started;
    expect(taken).toEqual([]);
    expect(
      waited,
      'it blocks (BLMOVE with a timeout) instead of returning at once or hanging',
    ).toBeGreaterThanOrEqual(200);
    expect(waited).toBeLessThan(3000);
  });

  it('00.2 wakes up as soon as a message arrives', async () => {
    const b = await broker();
    const [raw] = messages(1);
    const pending = b.reserve(1, 5000);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await b.push([raw!]);
    expect(await pending).toEqual([raw]);
    expect(Date.now() - started, 'blocking, not polling').toBeLessThan(1000);
  });

  it('00.2 never hands one message to two workers', async () => {
    const a = await broker();
    const name = queues.at(-1)!;
    const b = await openBroker({ queue: name }, track);
    open.push(b);
    const raws = messages(200);
    await a.push(raws);
    const seen: string[] = [];
    await Promise.all(
      [a, b].map(async (br) => {
        for (;;) {
          const taken = await br.reserve(10, 200);
          if (taken.length === 0) return;
          seen.push(...taken);
        }
      }),
    );
    expect(new Set(seen).size, 'every message delivered').toBe(200);
    expect(seen.length, 'no message delivered twice').toBe(200);
  });
});

describe('00.3 ack', () => {
  it('00.3 settles a held message: out of active, lease gone, result stored, counted', async () => {
    const b = await broker();
    const [raw] = messages(1);
    await b.push([raw!]);
    await b.reserve(1, 1000);
    expect(await b.ack(raw!, record(raw!)), 'ack returns true for a message it held').toBe(true);
    const redis = await connectRedis();
    const [active, lease] = await Promise.all([redis.llen(b.keys.active), redis.zscore(b.keys.leases, raw!)]);
    redis.disconnect();
    expect(active, 'the message left the active list').toBe(0);
    expect(lease, 'its lease is gone').toBeNull();
    const stored = await b.result(record(raw!).id);
    expect(stored?.state).toBe('SUCCESS');
    expect(stored?.result).toBe(42);
    expect((await b.stats()).succeeded, 'counted once as succeeded').toBe(1);
  });

  it('00.3 counts failures apart from successes', async () => {
    const b = await broker();
    const raws = messages(2);
    await b.push(raws);
    await b.reserve(2, 1000);
    await b.ack(raws[0]!, record(raws[0]!, 'SUCCESS'));
    await b.ack(raws[1]!, record(raws[1]!, 'FAILURE'));
    const stats = await b.stats();
    expect([stats.succeeded, stats.failed]).toEqual([1, 1]);
  });

  it('00.3 an ack for a message not held changes nothing and returns false', async () => {
    const b = await broker();
    const [raw] = messages(1);
    expect(await b.ack(raw!, record(raw!)), 'nothing was held').toBe(false);
    const stats = await b.stats();
    expect(stats.succeeded, 'a message acked twice, or never held, is not counted').toBe(0);
  });
});

describe('00.4 recover', () => {
  it('00.4 gives back a message whose lease ran out', async () => {
    const b = await broker(200);
    const raws = messages(2);
    await b.push(raws);
    await b.reserve(2, 1000);
    await new Promise((r) => setTimeout(r, 350));
    expect(await b.recover(), 'both leases ran out').toBe(2);
    const stats = await b.stats();
    expect([stats.waiting, stats.active], 'back in waiting, not in active').toEqual([2, 0]);
    const again: string[] = [];
    while (again.length < 2) again.push(...(await b.reserve(2, 500)));
    const ids = (list: string[]) => list.map((raw) => (JSON.parse(raw) as { id: string }).id).sort();
    expect(ids(again), 'the same messages come back').toEqual(ids(raws));
    for (const raw of again) {
      expect(JSON.parse(raw).redelivered, 'marked as redelivered once: RPUSH redelivered(raw)').toBe(1);
    }
  });

  it('00.4 leaves a message with a live lease alone', async () => {
    const b = await broker(30_000);
    const raws = messages(1);
    await b.push(raws);
    await b.reserve(1, 1000);
    expect(await b.recover()).toBe(0);
    expect((await b.stats()).active).toBe(1);
  });

  it('00.4 gives back only what is still in flight: a stale lease is dropped, never run twice', async () => {
    const b = await broker(200);
    const [raw] = messages(1);
    // A lease whose message is no longer in active: its worker acked it (and, say, crashed before cleaning up
    // the lease). The work is done; pushing it back to waiting would run it twice.
    const redis = await connectRedis();
    await redis.zadd(b.keys.leases, Date.now() - 1000, raw!);
    expect(await b.recover(), 'nothing in flight to give back').toBe(0);
    const [waiting, lease] = await Promise.all([
      redis.llen(b.keys.waiting),
      redis.zscore(b.keys.leases, raw!),
    ]);
    redis.disconnect();
    expect(waiting, 'an acked message must not go back to waiting: it would run twice').toBe(0);
    expect(lease, 'the stale lease is removed').toBeNull();
  });
});

describe('00 end to end', () => {
  it('00 a worker on your broker drains the queue; a dead worker loses nothing', async () => {
    const name = uniqueQueue('00-e2e');
    queues.push(name);
    const producer = await openBroker({ queue: name, visibilityMs: 300 }, track);
    open.push(producer);
    const raws = messages(40, 'fib');
    await producer.push(raws);
    // A worker that reserves some (how many: the chaos seed's pick, 1 to 8) and dies without acking.
    const held = 1 + Math.floor(chaosRandom()() * 8);
    const doomed = await openBroker({ queue: name, visibilityMs: 300 }, track);
    await doomed.reserve(held, 1000);
    await doomed.close();
    const worker = await Worker.start({
      queue: name,
      track: { broker: track },
      visibilityMs: 300,
      blockMs: 200,
    });
    try {
      await worker.untilSettled(40, 15_000);
    } finally {
      await worker.stop();
    }
    const stats = await producer.stats();
    expect(
      stats.succeeded,
      `every task, the dead worker’s ${held} included, succeeded exactly once (seed ${chaosSeedOfRun()})`,
    ).toBe(40);
    expect([stats.waiting, stats.active, stats.dead]).toEqual([0, 0, 0]);
  });
});
