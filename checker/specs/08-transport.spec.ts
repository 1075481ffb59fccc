/**
 * Lab 08 — the transport is a choice: lab 08's AmqpBroker (the track in MQ_TRACK, `npm run check -- 08
 * [--solution]`) on a real RabbitMQ, results in Redis. Each check names the TODO it grades.
 *
 * Judged by state no load changes: RabbitMQ's own counts (messages ready in the queue, seen from a connection of
 * the check's own), what Redis holds (results, counters, the start of every run with its pid), and what the
 * broker hands out. Faults are made to happen, not waited for: a message RabbitMQ refuses, a result write held
 * back from Redis, a connection severed under the broker, a worker process killed with kill -9.
 *
 * Every queue is a throw-away of its own, deleted after each check (RabbitMQ's side too), also when it fails.
 */
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startTransportWorker, type WorkerProcess } from '../../kit/transport/processes.ts';
import { closeAmqp, Rabbit, severBroker, useRabbit } from '../../kit/transport/rabbit.ts';
import { parseStart } from '../../kit/transport/tasks.ts';
import type { Broker, ResultRecord } from '../../mini-queue/broker.ts';
import { createEnvelope, encodeEnvelope } from '../../mini-queue/envelope.ts';
import { queueKey } from '../../mini-queue/keys.ts';
import { openBroker } from '../../mini-queue/parts.ts';
import { connectRedis } from '../../mini-queue/redis/client.ts';
import { Worker } from '../../mini-queue/worker.ts';
import { holdCommands } from '../evidence/redis-commands.ts';
import { cleanQueues, record, trackUnderTest, uniqueQueue, within } from '../spec-kit.ts';

const track = trackUnderTest();
// No RabbitMQ: the spec stops here with one line saying how to get one (the checker shows it as the verdict).
const url = await useRabbit();
const rabbit = new Rabbit(url);
const TASKS = new URL('../../kit/transport/tasks.ts', import.meta.url);

const queues: string[] = [];
const open: Broker[] = [];
const undos: Array<() => Promise<unknown> | unknown> = [];
let look: Redis | undefined;

afterEach(async () => {
  for (const undo of undos.splice(0).reverse()) await undo();
  await Promise.all(open.splice(0).map((b) => b.close().catch(() => {})));
  const names = queues.splice(0);
  // RabbitMQ's side first: the list of a queue's delay queues is in Redis.
  await rabbit.drop(names);
  await cleanQueues(names);
});
afterAll(async () => {
  look?.disconnect();
  await rabbit.close();
});

function queueName(): string {
  const name = uniqueQueue('08');
  queues.push(name);
  return name;
}

/** Lab 08's broker of the track under test on `name`, RabbitMQ sending it at most `prefetch` unacked messages. */
async function broker(name: string, prefetch = 3): Promise<Broker> {
  const b = await openBroker({ queue: name, prefetch }, track);
  open.push(b);
  return b;
}

async function redis(): Promise<Redis> {
  look ??= await connectRedis({ name: 'mq-check-08' });
  return look;
}

function messages(n: number, task = 'noop', args: (i: number) => unknown[] = (i) => [i]): string[] {
  return Array.from({ length: n }, (_, i) => encodeEnvelope(createEnvelope(task, args(i))));
}

function result(raw: string, state: 'SUCCESS' | 'FAILURE' = 'SUCCESS'): ResultRecord {
  const e = JSON.parse(raw) as { id: string; task: string; enqueuedAt: number };
  return { id: e.id, task: e.task, state, attempt: 0, enqueuedAt: e.enqueuedAt, result: 42 };
}

const idOf = (raw: string) => (JSON.parse(raw) as { id: string }).id;
const argOf = (raw: string) => (JSON.parse(raw) as { args: unknown[] }).args[0];
const redeliveredOf = (raw: string) => (JSON.parse(raw) as { redelivered?: number }).redelivered;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `done()` holds, polling; fails with `what` after `ms`. */
async function until(done: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`expected ${what} within ${ms / 1000} s`);
    await pause(25);
  }
}

/** RabbitMQ's count of ready messages once it is `want`, or the last count read when `ms` passed first. */
async function readyOnce(name: string, want: number, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { ready } = await rabbit.queue(name);
    if (ready === want || Date.now() > deadline) return ready;
    await pause(25);
  }
}

/**
 * Reserves until RabbitMQ's count and what the broker handed out account for all `total` messages, and stay so:
 * whatever RabbitMQ sent this consumer has reached reserve() by then. Returns what was handed out.
 */
async function settledDeliveries(
  b: Broker,
  name: string,
  total: number,
): Promise<{ taken: string[]; ready: number }> {
  const taken: string[] = [];
  let ready = total;
  let steady = 0;
  const deadline = Date.now() + 10_000;
  while (steady < 3 && Date.now() < deadline) {
    taken.push(...(await b.reserve(100, 150)));
    ready = (await rabbit.queue(name)).ready;
    steady = taken.length + ready === total ? steady + 1 : 0;
  }
  return { taken, ready };
}

describe('08.1 push', () => {
  it('08.1 push puts the messages in the queue before it resolves: persistent, in order', async () => {
    const name = queueName();
    const b = await broker(name);
    const raws = messages(5);
    await within(b.push(raws), 10_000, 'push() of 5 messages');
    const { ready } = await rabbit.queue(name);
    expect(
      ready,
      'when push() resolves, RabbitMQ has every message in the queue: it resolves on the confirms, not when the bytes left this process',
    ).toBe(5);
    const out: Array<{ body: string; deliveryMode: number | undefined }> = [];
    for (let i = 0; i < 5; i++) {
      const message = await rabbit.take(name);
      if (message) out.push(message);
    }
    expect(
      out.map((m) => argOf(m.body)),
      'the queue holds the envelopes as pushed, first in first out',
    ).toEqual([0, 1, 2, 3, 4]);
    expect(out.map((m) => m.body)).toEqual(raws);
    expect(
      out.map((m) => m.deliveryMode),
      'each message is persistent (delivery mode 2), so a RabbitMQ restart keeps it: { persistent: true }',
    ).toEqual([2, 2, 2, 2, 2]);
  });

  it('08.1 a message RabbitMQ refuses makes push reject: it waits for the confirms, a nack included', async () => {
    const name = queueName();
    const b = await broker(name);
    await within(b.push(messages(1)), 10_000, 'push() of 1 message');
    // The queue, replaced under the broker by one that refuses every message (max length 0, reject-publish):
    // RabbitMQ answers each publish with a nack. Only a push that waits for the confirms can tell.
    const main = `mq.${name}`;
    await rabbit.scratch(async (channel) => {
      await channel.deleteQueue(main);
      await channel.assertQueue(main, {
        durable: true,
        arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' },
      });
    });
    const outcome = await within(
      b.push(messages(1)).then(
        () => 'resolved',
        (error: unknown) => `rejected: ${error instanceof Error ? error.message : String(error)}`,
      ),
      15_000,
      'push() of a message RabbitMQ refuses to settle',
    );
    expect(
      outcome.startsWith('rejected') ? 'rejected' : outcome,
      'RabbitMQ refused the message (a nack): push() must reject, not resolve. sendToQueue only writes to a socket; waitForConfirms() waits for RabbitMQ to say it has every message, and rejects on a nack',
    ).toBe('rejected');
  });
});

describe('08.2 consume and ack', () => {
  it('08.2 RabbitMQ sends at most the prefetch: 10 messages, prefetch 3, none acked: 3 with the worker, 7 in the queue', async () => {
    const name = queueName();
    await rabbit.publish(name, messages(10));
    const b = await broker(name, 3);
    const { taken, ready } = await settledDeliveries(b, name, 10);
    expect(
      taken.length,
      `the worker holds ${taken.length} unacked messages, more than its prefetch of 3: basic.qos (channel.prefetch) bounds what RabbitMQ sends, and without it one worker takes the whole queue into its memory`,
    ).toBeLessThanOrEqual(3);
    expect(
      ready,
      `RabbitMQ's own count: ${10 - ready} of 10 left the queue, more than the prefetch of 3`,
    ).toBeGreaterThanOrEqual(7);
    expect(
      [taken.length, ready],
      'RabbitMQ sends up to the prefetch (this.prefetch: the worker can hold that many), not fewer: [held, ready] = [3, 7]',
    ).toEqual([3, 7]);
    expect(new Set(taken.map(idOf)).size, 'three different messages').toBe(3);
  });

  it('08.2 an ack stores the result in Redis, then RabbitMQ drops the message and sends the next', async () => {
    const name = queueName();
    const raws = messages(3);
    await rabbit.publish(name, raws);
    const b = await broker(name, 1);
    const [first] = await settledDeliveries(b, name, 3).then((s) => s.taken);
    expect(first, 'the oldest message first').toBe(raws[0]);
    expect(await b.ack(first!, result(first!)), 'ack returns true for a message it holds').toBe(true);
    const stored = await b.result(idOf(first!));
    expect(stored?.state, 'the result is in Redis once ack() resolves').toBe('SUCCESS');
    expect((await b.stats()).succeeded, 'counted once').toBe(1);
    // Its slot is free: RabbitMQ sends the next message.
    let next: string[] = [];
    await until(
      async () => {
        next.push(...(await b.reserve(1, 200)));
        return next.length > 0;
      },
      10_000,
      'the next message once the first was acked (prefetch 1: only a basic.ack RabbitMQ receives frees the slot; was channel.ack sent for the delivery?)',
    );
    next = next.slice(0, 1);
    expect(next, 'the next message in order').toEqual([raws[1]]);
    // The connection closes with the second unacked: RabbitMQ gives it back, and only it.
    await closeAmqp(b);
    await until(
      async () => (await rabbit.queue(name)).ready >= 2,
      10_000,
      'the unacked message back in the queue',
    );
    expect(
      (await rabbit.queue(name)).ready,
      'the acked message is gone from RabbitMQ and the unacked one is back: 2 ready. 3 means the ack never reached RabbitMQ (channel.ack on the delivery)',
    ).toBe(2);
  });

  it('08.2 a consumer that dies with messages unacked gives every one back: manual acks, nothing lost', async () => {
    const name = queueName();
    await rabbit.publish(name, messages(5));
    const b = await broker(name, 3);
    const { taken } = await settledDeliveries(b, name, 5);
    expect(taken.length, 'the broker holds messages').toBeGreaterThan(0);
    // The connection dies as in a crash (no goodbye): what it held unacked goes back to the queue.
    await severBroker(b);
    await closeAmqp(b);
    const ready = await readyOnce(name, 5, 10_000);
    expect(
      ready,
      `${5 - ready} of the ${taken.length} messages the dead consumer held are lost: consumed with noAck: true, RabbitMQ forgot them the moment it sent them. Manual acks (noAck: false) keep each one until it is acked`,
    ).toBe(5);
  });

  it('08.2 Redis first, then the ack: while the result cannot reach Redis, RabbitMQ still has the message', async () => {
    const name = queueName();
    const [raw] = messages(1);
    await rabbit.publish(name, [raw!]);
    const resultKey = queueKey(name, 'result', idOf(raw!));
    // Every command on this task's result key is held back from Redis (and what its connection sends after it).
    const gate = holdCommands((_, args) => args.some((a) => String(a) === resultKey));
    undos.push(() => gate.uninstall());
    const b = await broker(name, 1);
    const [taken] = await settledDeliveries(b, name, 1).then((s) => s.taken);
    expect(taken).toBe(raw);
    const acking = b.ack(raw!, result(raw!)).catch(() => false);
    await within(gate.held, 10_000, 'ack() to write the result to Redis');
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    // Closed now, as a crash here would: whatever ack() sent RabbitMQ before this reaches it first (one connection,
    // in order); what was not acked goes back to the queue.
    await closeAmqp(b);
    const ready = await readyOnce(name, 1, 5000);
    gate.release();
    await within(acking, 10_000, 'ack() once Redis answers');
    expect(
      ready,
      'the message was acked while its result had not reached Redis: a crash right then loses the result of a task that is gone from RabbitMQ. Store first (await this.store(record)), then ack',
    ).toBe(1);
    expect((await b.result(idOf(raw!)))?.state, 'the result reaches Redis once it answers').toBe('SUCCESS');
  });

  it('08.2 an ack for a message not held acks nothing and returns false; acked twice, a task counts once', async () => {
    const name = queueName();
    const [stranger, raw] = messages(2);
    await rabbit.publish(name, [raw!]);
    const b = await broker(name, 1);
    // Redis first: the result is stored before the broker looks for the delivery, held or not (a message whose
    // channel was lost comes back, finds its result, and is acked unrun).
    expect(await b.ack(stranger!, result(stranger!)), 'a message never delivered here is not held').toBe(
      false,
    );
    expect(
      (await b.result(idOf(stranger!)))?.state,
      'the result of a message no longer held is stored all the same (Redis first, then look for the delivery): its redelivery finds it and is acked unrun, instead of running twice',
    ).toBe('SUCCESS');
    const [taken] = await settledDeliveries(b, name, 1).then((s) => s.taken);
    expect(taken).toBe(raw);
    expect(await b.ack(raw!, result(raw!))).toBe(true);
    expect(
      await b.ack(raw!, result(raw!)),
      'the second ack of one message: not held any more, so nothing is sent (its tag is acked already: RabbitMQ would close the channel)',
    ).toBe(false);
    const stats = await b.stats();
    expect([stats.succeeded, stats.failed], 'two tasks, each counted once: [succeeded, failed]').toEqual([
      2, 0,
    ]);
    await closeAmqp(b);
    expect(await readyOnce(name, 0, 2000), 'the acked message is gone from RabbitMQ').toBe(0);
  });

  it('08.2 kill -9 of a worker process holding messages: each comes back at once, runs, and nothing is lost', {
    timeout: 90_000,
  }, async () => {
    const name = queueName();
    const starts = queueKey(name, 'lab08', 'starts');
    const tasks = 12;
    const raws = messages(tasks, 'work', () => [starts, 400]);
    await rabbit.publish(name, raws);
    const workers: WorkerProcess[] = [];
    undos.push(() => Promise.all(workers.map((w) => w.stop(1000))));
    for (const i of [1, 2]) {
      workers.push(
        startTransportWorker(
          `worker-${i}`,
          { queue: name, transport: 'rabbitmq', track, concurrency: 2 },
          url,
          () => {},
        ),
      );
    }
    const failed = Promise.race(workers.map((w) => w.failed));
    await within(
      Promise.race([Promise.all(workers.map((w) => w.ready)), failed]),
      60_000,
      'two worker processes to start',
    );
    const r = await redis();
    const victim = workers[0]!;
    const list = async () => (await r.lrange(starts, 0, -1)).map(parseStart);
    await within(
      Promise.race([
        until(
          async () => (await list()).some((s) => s.pid === victim.pid),
          30_000,
          `${victim.name} to start a task`,
        ),
        workers[0]!.failed,
      ]),
      35_000,
      `${victim.name} to start a task`,
    );
    await victim.kill();
    const killedAt = Date.now();
    const ids = raws.map(idOf);
    const stored = async () =>
      (await r.mget(...ids.map((id) => queueKey(name, 'result', id)))).filter(
        (v) => v !== null && JSON.parse(v).state === 'SUCCESS',
      ).length;
    await Promise.race([
      until(async () => (await stored()) === tasks, 45_000, 'every task to succeed'),
      workers[1]!.failed,
    ]).catch(() => {});
    const done = await stored();
    const runs = await list();
    const byVictim = new Set(runs.filter((s) => s.pid === victim.pid).map((s) => s.id));
    const again = runs.filter((s) => s.pid !== victim.pid && byVictim.has(s.id));
    if (again.length > 0)
      record('time to redelivery after kill -9', Math.min(...again.map((s) => s.at)) - killedAt, ' ms');
    expect(
      done,
      `${tasks - done} of ${tasks} tasks never succeeded after ${victim.name} was killed holding ${byVictim.size} running (and more prefetched): with manual acks RabbitMQ gives a dead consumer's unacked messages to the next one at once`,
    ).toBe(tasks);
    const count = new Map<string, number>();
    for (const s of runs) count.set(s.id, (count.get(s.id) ?? 0) + 1);
    const twice = [...count].filter(([id, n]) => n > 1 && !(n === 2 && byVictim.has(id)));
    expect(
      twice.map(([id]) => id),
      'no task ran twice, but those the killed worker had begun',
    ).toEqual([]);
  });
});

describe('08.3 channel loss', () => {
  it('08.3 a lost channel: what it delivered is dropped, its acks return false, nothing is handed out twice, and no stale tag closes the next channel', {
    timeout: 60_000,
  }, async () => {
    const name = queueName();
    const raws = messages(6);
    await rabbit.publish(name, raws);
    const b = await broker(name, 3);
    let losses = 0;
    const spied = b as unknown as { channelLost(channel: unknown): void };
    const lost = spied.channelLost.bind(b);
    spied.channelLost = (channel) => {
      losses++;
      lost(channel);
    };
    // Three delivered (#0 #1 #2) and the first two acked: RabbitMQ sends #3 and #4, which wait in the broker's
    // buffer, while #2 (its delivery tag 3 on this channel) is held.
    const first: string[] = [];
    await until(
      async () => {
        first.push(...(await b.reserve(3 - first.length, 200)));
        return first.length === 3;
      },
      10_000,
      'the first 3 messages (the prefetch)',
    );
    expect(first, 'in order').toEqual(raws.slice(0, 3));
    for (const raw of first.slice(0, 2)) expect(await b.ack(raw, result(raw))).toBe(true);
    const held = first[2]!;
    await until(async () => (await rabbit.queue(name)).ready === 1, 10_000, 'RabbitMQ to send #3 and #4');
    await severBroker(b);
    await until(() => losses > 0, 10_000, 'the broker to notice the lost channel');
    // The link opens a new channel, and RabbitMQ sends it the prefetch again, #2 first: its tags start at 1 again.
    // Three are handed out from it (held, not acked yet), so the tag the lost channel gave #2 names one of them.
    const handed = new Map<string, number>();
    const out: string[] = [];
    const hand = (raws: string[]) => {
      for (const raw of raws) handed.set(idOf(raw), (handed.get(idOf(raw)) ?? 0) + 1);
      out.push(...raws);
    };
    await until(
      async () => {
        hand(await b.reserve(3 - Math.min(3, out.length), 200));
        return out.length >= 3;
      },
      15_000,
      'a new channel, and 3 messages handed out from it',
    );
    expect(
      await b.ack(held, result(held)),
      'an ack of a message the lost channel delivered returns false: RabbitMQ has put it back, and its delivery tag means nothing on the new channel (there it names another message)',
    ).toBe(false);
    // Then every message handed out is acked, until RabbitMQ has nothing left.
    const settled = new Set<string>(first.slice(0, 2).map(idOf));
    await until(
      async () => {
        for (const raw of out.splice(0)) if (await b.ack(raw, result(raw))) settled.add(idOf(raw));
        hand(await b.reserve(3, 200));
        return out.length === 0 && settled.size === 6 && (await rabbit.queue(name)).ready === 0;
      },
      20_000,
      'every message handed out again and acked after the loss',
    ).catch(() => {});
    const twice = [...handed]
      .filter(([, n]) => n > 1)
      .map(([id]) => `#${raws.findIndex((r) => idOf(r) === id)}`);
    expect(
      twice,
      "handed out twice after the channel was lost: what it had delivered stayed in the broker's buffer although RabbitMQ had put it back for a new delivery. channelLost() must drop it (buffered and held)",
    ).toEqual([]);
    expect(
      losses,
      'a second channel was lost: RabbitMQ closes a channel that acks a delivery tag it never gave on it (PRECONDITION_FAILED). A tag belongs to its channel; an ack of a lost channel returns false and sends nothing',
    ).toBe(1);
    expect(settled.size, 'every message settled once after the loss').toBe(6);
    await closeAmqp(b);
    await pause(200);
    expect(
      (await rabbit.queue(name)).ready,
      'nothing left unacked in RabbitMQ: each message acked once',
    ).toBe(0);
  });

  it('08.3 a message that comes back says how often: x-delivery-count becomes the envelope redelivered, 1 then 2', async () => {
    const name = queueName();
    const [raw] = messages(1);
    await rabbit.publish(name, [raw!]);
    const seen: Array<number | undefined> = [];
    for (let death = 0; death < 3; death++) {
      const b = await broker(name, 1);
      const { taken } = await settledDeliveries(b, name, 1);
      expect(taken.map(idOf), 'the same message each time').toEqual([idOf(raw!)]);
      seen.push(redeliveredOf(taken[0]!));
      // Its consumer dies: RabbitMQ counts one more delivery of it.
      await severBroker(b);
      await b.close();
      open.splice(open.indexOf(b), 1);
    }
    expect(
      seen,
      "the envelope's redelivered counts how often the message came back unacked (the quorum queue's x-delivery-count header): none at first, then 1, then 2. A yes/no (the delivery's redelivered flag) cannot tell one death from many",
    ).toEqual([undefined, 1, 2]);
  });

  it('08.3 a task whose worker died running it three times is failed as WorkerLost, not run again: the poison guard', {
    timeout: 60_000,
  }, async () => {
    const name = queueName();
    const starts = queueKey(name, 'lab08', 'starts');
    const [raw] = messages(1, 'work', () => [starts, 0]);
    await rabbit.publish(name, [raw!]);
    for (let death = 0; death < 3; death++) {
      const b = await broker(name, 1);
      await settledDeliveries(b, name, 1);
      await severBroker(b);
      await b.close();
      open.splice(open.indexOf(b), 1);
    }
    const worker = await Worker.start({
      queue: name,
      track: { broker: track },
      tasksPath: fileURLToPath(TASKS),
      pool: 'solo',
      maxRedeliveries: 2,
      blockMs: 200,
      watchdog: false,
    });
    undos.push(() => worker.stop({ cold: true }));
    const [run] = await within(
      Promise.race([worker.untilSettled(1, 30_000), worker.done.then(() => [])]),
      35_000,
      'the worker to settle the task',
    );
    const ran = await (await redis()).llen(starts);
    expect(
      ran,
      "the task ran again after its worker died three times: maxRedeliveries (2) reads the envelope's redelivered, which deliver() fills from x-delivery-count",
    ).toBe(0);
    expect(run?.state, 'it fails for good instead').toBe('FAILURE');
    const stored = await (await redis()).get(queueKey(name, 'result', idOf(raw!)));
    expect(stored ?? 'no result', 'its result says why: the worker running it died 3 times').toMatch(
      /died 3 times/,
    );
  });
});
