/**
 * The RabbitMQ transport against a real RabbitMQ (BROKER_URL, else amqp://guest:guest@127.0.0.1:5672) and a real
 * Redis for results: confirms, prefetch, acks, delays, what a lost channel or a killed worker does. Each test has
 * its own queue, deleted after it on both sides.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { delayBucket, MAX_DELAY_MS } from '../mini-queue/amqp/topology.ts';
import type { ResultRecord } from '../mini-queue/broker.ts';
import { createEnvelope, encodeEnvelope } from '../mini-queue/envelope.ts';
import { Queue } from '../mini-queue/queue.ts';
import { type TaskRun, Worker } from '../mini-queue/worker.ts';
import { AMQP_URL, openAmqpBroker, useAmqpQueues } from './helpers/amqp.ts';
import { alive, start } from './helpers/cli.ts';
import { until } from './helpers/queues.ts';

// Queue and Worker follow BROKER_URL: this file's process runs them on RabbitMQ.
process.env.BROKER_URL = AMQP_URL;

const queues = useAmqpQueues('amqp');
const closing: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close().catch(() => {});
});

function raws(n: number, task = 'noop'): string[] {
  return Array.from({ length: n }, (_, i) => encodeEnvelope(createEnvelope(task, [i])));
}

function success(raw: string): ResultRecord {
  const e = JSON.parse(raw) as { id: string; task: string; attempt: number; enqueuedAt: number };
  return {
    id: e.id,
    task: e.task,
    attempt: e.attempt,
    enqueuedAt: e.enqueuedAt,
    state: 'SUCCESS',
    result: null,
  };
}

async function broker(queue: string, prefetch?: number) {
  const opened = await openAmqpBroker(queue, prefetch === undefined ? {} : { prefetch });
  closing.push(() => opened.broker.close());
  return opened;
}

async function worker(queue: string, options: Parameters<typeof Worker.start>[0] = {}): Promise<Worker> {
  const started = await Worker.start({ queue, pool: 'solo', watchdog: false, ...options });
  closing.push(() => started.stop({ cold: true }));
  return started;
}

describe('delay buckets', () => {
  it('never round a delay down, and at most 100 ms or 5% up; few buckets', () => {
    const buckets = new Set<number>();
    for (let ms = 1; ms < 3_600_000; ms = Math.ceil(ms * 1.01) + 1) {
      const bucket = delayBucket(ms);
      buckets.add(bucket);
      expect(bucket).toBeGreaterThanOrEqual(ms);
      expect(bucket - ms).toBeLessThanOrEqual(Math.max(100, ms * 0.05));
    }
    // 20 of 100 ms up to 2 s, then one per 5%: about 175 up to an hour, each a queue that exists while used.
    expect(buckets.size).toBeLessThan(200);
    expect(delayBucket(0)).toBe(0);
    expect(delayBucket(-5)).toBe(0);
    expect(delayBucket(10 * MAX_DELAY_MS)).toBe(MAX_DELAY_MS);
  });
});

describe('the RabbitMQ broker', () => {
  it('push resolves once RabbitMQ confirmed: the messages are in the queue by then', async () => {
    const name = queues.name();
    const { broker: b } = await broker(name);
    await b.push(raws(5));
    expect((await b.stats()).waiting).toBe(5);
  });

  it('reserve hands out deliveries; ack stores the result, then acks; a second ack returns false', async () => {
    const name = queues.name();
    const { broker: b } = await broker(name);
    const pushed = raws(3);
    await b.push(pushed);
    const taken: string[] = [];
    await until(async () => {
      taken.push(...(await b.reserve(3 - taken.length, 200)));
      return taken.length === 3;
    });
    expect(taken).toEqual(pushed);
    for (const raw of taken) expect(await b.ack(raw, success(raw))).toBe(true);
    expect(await b.ack(taken[0]!, success(taken[0]!))).toBe(false);
    expect((await b.result(success(taken[0]!).id))?.state).toBe('SUCCESS');
    await until(async () => (await b.stats()).active === 0);
    expect(await b.stats()).toEqual({ waiting: 0, active: 0, delayed: 0, succeeded: 3, failed: 0, dead: 0 });
  });

  it('a consumer never has more unacked messages than its prefetch: the rest stay for another', async () => {
    const name = queues.name();
    const { broker: a } = await broker(name, 3);
    const { broker: b } = await broker(name, 50);
    await a.push(raws(10));
    const first = await a.reserve(1, 1000);
    expect(first).toHaveLength(1);
    // Unacked with A: the one it runs and two in its buffer; seven ready for anyone else.
    await until(async () => (await a.stats()).waiting === 7);
    const rest: string[] = [];
    await until(async () => {
      rest.push(...(await b.reserve(50, 100)));
      return rest.length >= 7;
    });
    await new Promise((r) => setTimeout(r, 300));
    rest.push(...(await b.reserve(50, 100)));
    expect(rest).toHaveLength(7);
    // A, asked for more than its prefetch without acking, has only its own three.
    const more = await a.reserve(10, 300);
    expect(first.length + more.length).toBe(3);
    expect(new Set([...first, ...more, ...rest]).size).toBe(10);
  });

  it('a countdown task is never delivered early, and counts as delayed meanwhile', async () => {
    const name = queues.name();
    const { broker: b } = await broker(name);
    const [raw] = raws(1);
    const dueAt = Date.now() + 1500;
    await b.schedule(raw!, dueAt);
    expect((await b.stats()).delayed).toBe(1);
    let got: string[] = [];
    await until(async () => {
      got = await b.reserve(1, 200);
      return got.length > 0;
    }, 15_000);
    expect(Date.now()).toBeGreaterThanOrEqual(dueAt);
    expect(got).toEqual([raw]);
    expect((await b.stats()).delayed).toBe(0);
  });

  it('a failed task is retried after its backoff, through a delay queue, then fails for good', async () => {
    const name = queues.name();
    const w = await worker(name, { retryBackoffMs: 400 });
    const runs = w.untilSettled(1, 20_000);
    const queue = new Queue({ name });
    closing.push(() => queue.close());
    const handle = await queue.enqueue('fail', ['boom'], { maxRetries: 1 });
    const [retry, last] = await runs;
    expect([retry?.state, last?.state, last?.attempt]).toEqual(['RETRY', 'FAILURE', 1]);
    // Attempt 0's backoff is 200 to 400 ms (full jitter over 400 ms): the next run never starts before it.
    expect(last!.startedAt - retry!.finishedAt).toBeGreaterThanOrEqual(200);
    await expect(handle.result({ timeout: 1000 })).rejects.toThrow('boom');
  });

  it('kill -9 of a worker process: its task is redelivered at once and runs once more, on the survivor', async () => {
    const name = queues.name();
    const queue = new Queue({ name });
    closing.push(() => queue.close());
    const handle = await queue.enqueue('sleep', [3000]);
    const victim = start(['mini-queue', 'worker', '--pool', 'solo', '--queue', name], {
      BROKER_URL: AMQP_URL,
    });
    closing.push(async () => victim.kill('SIGKILL'));
    await until(async () => (await handle.state()) === 'STARTED', 20_000);
    // The survivor starts now, so the victim is the one holding the task.
    const survivor = await worker(name);
    const runs: TaskRun[] = [];
    survivor.on('task', (run) => runs.push(run));
    const killedAt = Date.now();
    victim.kill('SIGKILL');
    await until(() => !alive(victim.pid!), 5000);
    expect(await handle.result({ timeout: 20_000 })).toBe(3000);
    // The ack lands in Redis a turn before the worker reports the run.
    await until(() => runs.length > 0);
    expect(runs.map((r) => r.state)).toEqual(['SUCCESS']);
    // No lease to run out (Redis: the visibility timeout, 30 s by default): RabbitMQ requeued it when the
    // victim's socket closed.
    expect(runs[0]!.startedAt - killedAt).toBeLessThan(15_000);
    expect((await queue.stats()).succeeded).toBe(1);
  });

  it('a task whose workers keep dying fails as WorkerLost after maxRedeliveries deaths', async () => {
    const name = queues.name();
    const { broker: producer } = await broker(name);
    const [raw] = raws(1, 'noop');
    await producer.push([raw!]);
    // Three consumers die holding it: their connections drop without a goodbye, as a killed process's do.
    for (let death = 1; death <= 3; death++) {
      const { broker: doomed, link } = await openAmqpBroker(name, { prefetch: 1 });
      let got: string[] = [];
      await until(async () => {
        got = await doomed.reserve(1, 200);
        return got.length > 0;
      });
      if (death > 1) expect(JSON.parse(got[0]!).redelivered).toBe(death - 1);
      await link.sever();
      await doomed.close();
    }
    const w = await worker(name, { maxRedeliveries: 2 });
    const [run] = await w.untilSettled(1, 15_000);
    expect(run?.state).toBe('FAILURE');
    expect(run?.error).toMatch(/^WorkerLost: the worker running this task died 3 times/);
  });

  it('after a lost channel: an ack of its delivery returns false, and nothing is acked or counted twice', async () => {
    const name = queues.name();
    const { broker: b, link } = await broker(name, 5);
    const pushed = raws(2);
    await b.push(pushed);
    const held: string[] = [];
    await until(async () => {
      held.push(...(await b.reserve(5, 200)));
      return held.length === 2;
    });
    await link.sever();
    await until(() => link.consumerChannelsLost === 1);
    // The result of the first is stored (and counted once); its delivery tag is gone with its channel.
    expect(await b.ack(held[0]!, success(held[0]!))).toBe(false);
    // Both come back on the new channel: the first, settled already, is acked unrun; the second runs again.
    const again: string[] = [];
    await until(async () => {
      again.push(...(await b.reserve(5, 200)));
      return again.length >= 1;
    }, 15_000);
    expect(again).toHaveLength(1);
    expect(JSON.parse(again[0]!).id).toBe(JSON.parse(held[1]!).id);
    expect(JSON.parse(again[0]!).redelivered).toBe(1);
    expect(await b.ack(again[0]!, success(again[0]!))).toBe(true);
    await until(async () => {
      const s = await b.stats();
      return s.waiting === 0 && s.active === 0;
    });
    expect(await b.stats()).toEqual({ waiting: 0, active: 0, delayed: 0, succeeded: 2, failed: 0, dead: 0 });
    // An ack of a tag the channel does not know would close it (PRECONDITION_FAILED): it is the first one still.
    expect(link.consumerChannelsLost).toBe(1);
  });

  it('stats: waiting, delayed and dead from RabbitMQ and Redis; the Redis waiting list is relayed', async () => {
    const name = queues.name();
    const { broker: b } = await broker(name);
    const redis = await queues.redis();
    await b.push(raws(2));
    await b.schedule(raws(1)[0]!, Date.now() + 60_000);
    await b.schedule(raws(1)[0]!, Date.now() + 5_000);
    // What a Lua script or redis-cli enqueues lands in the Redis list: an outbox that promote() relays.
    await redis.lpush(`mq:{${name}}:waiting`, raws(1)[0]!, 'not json');
    expect(await b.stats()).toMatchObject({ waiting: 4, delayed: 2, dead: 0 });
    expect(await b.promote()).toBe(2);
    const taken: string[] = [];
    await until(async () => {
      taken.push(...(await b.reserve(4, 200)));
      return taken.length === 4;
    });
    const bad = taken.find((raw) => raw === 'not json')!;
    await b.bury(bad, 'not valid JSON');
    await until(async () => (await b.stats()).active === 3);
    expect(await b.stats()).toEqual({ waiting: 0, active: 3, delayed: 2, succeeded: 0, failed: 0, dead: 1 });
  });

  it('canvas on RabbitMQ: the next link of a chain and the callback of a chord go through the Redis outbox', async () => {
    const name = queues.name();
    await worker(name, { pool: 'event-loop', concurrency: 4 });
    const queue = new Queue({ name });
    closing.push(() => queue.close());
    const chain = await queue.chain([
      { task: 'sum', args: [1, 2] },
      { task: 'sum', args: [10] },
    ]);
    const chord = await queue.chord(
      [
        { task: 'sum', args: [1] },
        { task: 'sum', args: [2] },
      ],
      { task: 'sum', args: [] },
    );
    expect(await chain.get({ timeoutMs: 20_000 })).toBe(13);
    expect(await chord.get({ timeoutMs: 20_000 })).toBe(3);
  });

  it('release gives held messages back at once, unrun: they are delivered again, to any consumer', async () => {
    const name = queues.name();
    const { broker: a } = await broker(name, 5);
    const { broker: b } = await broker(name, 5);
    const pushed = raws(2);
    await a.push(pushed);
    const held: string[] = [];
    await until(async () => {
      held.push(...(await a.reserve(5, 200)));
      return held.length === 2;
    });
    expect(await a.release(held)).toBe(2);
    expect(await a.release(held)).toBe(0);
    // RabbitMQ requeues them now and delivers them again: to B, or to A itself, which has room again.
    const again: string[] = [];
    await until(async () => {
      again.push(...(await a.reserve(5, 100)), ...(await b.reserve(5, 100)));
      return again.length === 2;
    });
    const ids = (list: string[]) => list.map((raw) => JSON.parse(raw).id).sort();
    expect(ids(again)).toEqual(ids(pushed));
    expect(again.map((raw) => JSON.parse(raw).redelivered)).toEqual([1, 1]);
  });

  it('a message pushed with its eta ahead is put off until then, unrun (holdIfEarly, through defer)', async () => {
    const name = queues.name();
    const w = await worker(name);
    const { broker: producer } = await broker(name);
    const eta = Date.now() + 1500;
    await producer.push([encodeEnvelope({ ...createEnvelope('noop', []), eta })]);
    const [run] = await w.untilSettled(1, 15_000);
    expect(run?.state).toBe('SUCCESS');
    expect(run!.startedAt).toBeGreaterThanOrEqual(eta);
  });
});
