/**
 * Lab 00 — the broker. Graded on the track in MQ_TRACK (`npm run check -- 00 [--solution]`).
 * Each test names the TODO it grades: the report shows the first failing one with its hint.
 *
 * Evidence, not timings: what is in Redis afterwards (lists, leases, result keys and their TTL), which commands
 * Redis ran (MONITOR, checker/evidence/redis-commands.ts), and whether a call resolved while its command was still
 * held back from Redis. A busy laptop makes these checks slower, never wrong.
 */
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker, ResultRecord } from '../../mini-queue/broker.ts';
import { createEnvelope, encodeEnvelope } from '../../mini-queue/envelope.ts';
import { queueKeys } from '../../mini-queue/keys.ts';
import { openBroker } from '../../mini-queue/parts.ts';
import { connectRedis } from '../../mini-queue/redis/client.ts';
import { Worker } from '../../mini-queue/worker.ts';
import { holdCommands, watchCommands } from '../evidence/redis-commands.ts';
import {
  chaosRandom,
  chaosSeedOfRun,
  cleanQueues,
  trackUnderTest,
  uniqueQueue,
  within,
} from '../spec-kit.ts';

const track = trackUnderTest();
const queues: string[] = [];
const open: Broker[] = [];
const clients: Redis[] = [];
/** The broker's default result TTL (BrokerOptions.resultTtlSeconds): a day, Celery's result_expires. */
const A_DAY_S = 86_400;

async function broker(visibilityMs = 30_000, name = uniqueQueue('00')): Promise<Broker> {
  if (!queues.includes(name)) queues.push(name);
  const b = await openBroker({ queue: name, visibilityMs }, track);
  open.push(b);
  return b;
}

/** A connection of the check's own, to look at Redis directly. */
async function redis(): Promise<Redis> {
  const client = await connectRedis({ name: 'mq-check-00' });
  clients.push(client);
  return client;
}

function messages(n: number, task = 'noop'): string[] {
  return Array.from({ length: n }, (_, i) => encodeEnvelope(createEnvelope(task, [i])));
}

function record(raw: string, state: 'SUCCESS' | 'FAILURE' = 'SUCCESS'): ResultRecord {
  const e = JSON.parse(raw) as { id: string; task: string; enqueuedAt: number };
  return { id: e.id, task: e.task, state, attempt: 0, enqueuedAt: e.enqueuedAt, result: 42 };
}

const idOf = (raw: string) => (JSON.parse(raw) as { id: string }).id;
const short = (list: string[]) => `[${list.map((raw) => `#${JSON.parse(raw).args?.[0] ?? '?'}`).join(', ')}]`;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
  for (const client of clients.splice(0)) client.disconnect();
  await cleanQueues(queues.splice(0));
});

describe('00.1 push', () => {
  it('00.1 puts messages on the waiting list, first in first out', async () => {
    const b = await broker();
    const raws = messages(3);
    await b.push(raws);
    const listed = await (await redis()).lrange(b.keys.waiting, 0, -1);
    expect(listed, 'the waiting list holds the pushed messages').toHaveLength(3);
    // Workers take from the right: the first pushed must be the rightmost, the last pushed the leftmost.
    expect(
      listed,
      `first in, first out: pushing #0, #1, #2 must leave [#2, #1, #0] (workers take from the right); the list is ${short(listed)}`,
    ).toEqual([...raws].reverse());
  });

  it('00.1 push resolves only once the messages are in Redis', async () => {
    const name = uniqueQueue('00');
    const waiting = queueKeys(name).waiting;
    const look = await redis();
    // Every command on the waiting list is held back from Redis until we let it go.
    const gate = holdCommands((command, args) => command !== 'LLEN' && args.some((a) => a === waiting));
    try {
      const b = await broker(30_000, name);
      let resolved = false;
      const pushing = b.push(messages(3)).then(() => {
        resolved = true;
      });
      await within(Promise.race([gate.held, pushing]), 10_000, 'push() to send a command or resolve');
      // Every chance to resolve early: a few turns of the event loop while its command is held.
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      const early = resolved && gate.holding > 0;
      gate.release();
      await within(pushing, 10_000, 'push()');
      expect(
        early,
        'push() resolved while its command had not reached Redis yet: await the LPUSH, or the caller goes on (and may exit) before the message is queued',
      ).toBe(false);
      expect(await look.llen(waiting), 'after push() resolved, the messages are in the waiting list').toBe(3);
    } finally {
      gate.uninstall();
    }
  });
});

describe('00.2 reserve', () => {
  it('00.2 moves a message from waiting to active and gives it a lease', async () => {
    const b = await broker(5000);
    const [raw] = messages(1);
    await b.push([raw!]);
    const before = Date.now();
    const taken = await b.reserve(1, 1000);
    const after = Date.now();
    expect(taken, 'reserve returns the message').toEqual([raw]);
    const r = await redis();
    const [waiting, active, lease] = await Promise.all([
      r.llen(b.keys.waiting),
      r.lrange(b.keys.active, 0, -1),
      r.zscore(b.keys.leases, raw!),
    ]);
    expect(waiting, 'the message left the waiting list').toBe(0);
    expect(active, 'the message is in the in-flight (active) list: no worker crash can lose it').toEqual([
      raw,
    ]);
    expect(lease, 'the message has a lease in the leases set, under the envelope itself').not.toBeNull();
    expect(
      Number(lease),
      `its lease runs out a visibility timeout (5000 ms) after the reserve: ZADD with this.leaseDeadline(); it is ${Number(lease) - before} ms after`,
    ).toBeGreaterThanOrEqual(before + 5000);
    expect(Number(lease)).toBeLessThanOrEqual(after + 5000);
  });

  it('00.2 takes at most max messages, each with its own lease', async () => {
    const b = await broker(5000);
    const raws = messages(5);
    await b.push(raws);
    const before = Date.now();
    const taken = await b.reserve(3, 1000);
    const r = await redis();
    const [waiting, active] = await Promise.all([r.llen(b.keys.waiting), r.llen(b.keys.active)]);
    expect(
      taken.length,
      `reserve(3) returned ${taken.length} messages: up to max, at least the first`,
    ).toBeGreaterThan(0);
    expect(taken.length, `reserve(3) must take at most 3; it returned ${taken.length}`).toBeLessThanOrEqual(
      3,
    );
    expect(active, `what reserve took is what is in active (${taken.length}); active holds ${active}`).toBe(
      taken.length,
    );
    expect(waiting, 'the rest stays in waiting').toBe(5 - taken.length);
    for (const raw of taken) {
      const lease = await r.zscore(b.keys.leases, raw);
      expect(
        lease === null ? null : Number(lease) >= before + 5000,
        `every message taken gets a lease of a visibility timeout: ${short([raw])} has ${lease === null ? 'none' : `one ${Number(lease) - before} ms after the reserve`}`,
      ).toBe(true);
    }
  });

  it('00.2 moves atomically: one BLMOVE/LMOVE (or script), never a pop and a separate push', async () => {
    const b = await broker();
    await b.push(messages(2));
    // MONITOR shows every command Redis runs: a pop followed by a push is a window in which a crash loses the
    // message, even though the end state looks the same.
    const log = await watchCommands((args) => args.some((a) => a === b.keys.waiting));
    try {
      await b.reserve(2, 500);
      await log.settle();
    } finally {
      log.close();
    }
    const atomic = new Set(['BLMOVE', 'LMOVE', 'BRPOPLPUSH', 'RPOPLPUSH', 'EVAL', 'EVALSHA', 'FCALL']);
    const taking = log.commands
      .map((args) => args[0]!)
      .filter((command) => command !== 'LLEN' && command !== 'LRANGE' && command !== 'LPUSH');
    expect(taking.length, 'reserve touched the waiting list').toBeGreaterThan(0);
    expect(
      taking.filter((command) => !atomic.has(command)),
      `reserve must move messages atomically (BLMOVE), not pop them and push them to active afterwards; Redis ran ${taking.join(', ')}`,
    ).toEqual([]);
  });

  it('00.2 blocks in Redis while the queue is empty: one blocking call, not a polling loop', async () => {
    const b = await broker();
    const log = await watchCommands((args) => args.some((a) => a === b.keys.waiting));
    let taken: string[];
    try {
      taken = await within(b.reserve(1, 800), 10_000, 'reserve(1, 800) on an empty queue');
      await log.settle();
    } finally {
      log.close();
    }
    expect(taken).toEqual([]);
    const ran = log.commands.map((args) => args[0]!);
    const blocking = ran.filter((command) => /^(BLMOVE|BRPOPLPUSH|BRPOP|BLPOP|BLMPOP)$/.test(command));
    expect(
      blocking.length,
      `while the queue is empty, reserve must wait inside Redis with one blocking call (BLMOVE with a timeout); Redis ran ${ran.join(', ') || 'nothing'} on the waiting list`,
    ).toBeGreaterThan(0);
    expect(
      ran.length,
      `one blocking call covers the whole 800 ms; Redis ran ${ran.length} commands on the waiting list (${ran.slice(0, 6).join(', ')}${ran.length > 6 ? ', …' : ''}): that is a polling loop`,
    ).toBeLessThanOrEqual(3);
  });

  it('00.2 takes messages in the order they were pushed', async () => {
    const b = await broker();
    const raws = messages(5);
    await b.push(raws);
    const taken: string[] = [];
    while (taken.length < 5) taken.push(...(await b.reserve(5 - taken.length, 500)));
    expect(taken, `first in, first out: pushed ${short(raws)}, reserved ${short(taken)}`).toEqual(raws);
  });

  it('00.2 waits up to blockMs on an empty queue, then returns nothing', async () => {
    const b = await broker();
    const started = Date.now();
    const taken = await within(
      b.reserve(1, 300),
      10_000,
      'reserve(1, 300) to return [] after about 300 ms (BLMOVE takes its timeout in seconds: blockMs / 1000)',
    );
    const waited = Date.now() - started;
    expect(taken).toEqual([]);
    expect(
      waited,
      `it blocks (BLMOVE with a timeout) instead of returning at once: it returned after ${waited} ms`,
    ).toBeGreaterThanOrEqual(200);
  });

  it('00.2 wakes up as soon as a message arrives', async () => {
    const b = await broker();
    const [raw] = messages(1);
    const pending = b.reserve(1, 4000);
    await pause(100);
    const started = Date.now();
    await within(b.push([raw!]), 10_000, 'push() while a reserve waits');
    const taken = await pending;
    expect(
      taken,
      'a reserve waiting on an empty queue returns the message pushed meanwhile (BLMOVE on this.blocking: a connection blocked in BLMOVE cannot send anything else, the push included)',
    ).toEqual([raw]);
    expect(Date.now() - started, 'woken by the push, before its 4 s timeout ran out').toBeLessThan(3500);
  });

  it('00.2 never hands one message to two workers', async () => {
    const a = await broker();
    const b = await broker(30_000, queues.at(-1)!);
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
    const r = await redis();
    const [active, lease] = await Promise.all([r.llen(b.keys.active), r.zscore(b.keys.leases, raw!)]);
    expect(active, 'the message left the active list').toBe(0);
    expect(lease, 'its lease is gone').toBeNull();
    const stored = await b.result(idOf(raw!));
    expect(stored?.state, 'the result record (ARGV[2]) is stored under the result key').toBe('SUCCESS');
    expect(stored?.result).toBe(42);
    expect((await b.stats()).succeeded, 'counted once as succeeded').toBe(1);
  });

  it('00.3 keeps a result a day, then lets it expire', async () => {
    const b = await broker();
    const [raw] = messages(1);
    await b.push([raw!]);
    await b.reserve(1, 1000);
    await b.ack(raw!, record(raw!));
    const ttl = await (await redis()).ttl(b.keys.result(idOf(raw!)));
    const seen = ttl === -1 ? 'no expiry: it would stay forever' : ttl === -2 ? 'no result key' : `${ttl} s`;
    expect(
      ttl,
      `a result is kept a day (${A_DAY_S} s, SET … EX with the TTL the ack gets), then expires; its TTL is ${seen}`,
    ).toBeGreaterThan(A_DAY_S - 600);
    expect(ttl, `kept a day, not longer: its TTL is ${seen}`).toBeLessThanOrEqual(A_DAY_S);
  });

  it('00.3 counts failures apart from successes', async () => {
    const b = await broker();
    const raws = messages(2);
    await b.push(raws);
    await b.reserve(2, 1000);
    await b.ack(raws[0]!, record(raws[0]!, 'SUCCESS'));
    await b.ack(raws[1]!, record(raws[1]!, 'FAILURE'));
    const stats = await b.stats();
    expect(
      [stats.succeeded, stats.failed],
      `one success and one failure count as [succeeded, failed] = [1, 1]; seen [${stats.succeeded}, ${stats.failed}]`,
    ).toEqual([1, 1]);
  });

  it('00.3 settles only the message it names: the others keep their place and lease', async () => {
    const b = await broker();
    const raws = messages(3);
    await b.push(raws);
    const taken: string[] = [];
    while (taken.length < 3) taken.push(...(await b.reserve(3 - taken.length, 1000)));
    await b.ack(raws[1]!, record(raws[1]!));
    const r = await redis();
    const active = await r.lrange(b.keys.active, 0, -1);
    expect(active.sort(), 'the two messages not acked are still in active').toEqual(
      [raws[0]!, raws[2]!].sort(),
    );
    for (const raw of [raws[0]!, raws[2]!]) {
      expect(
        await r.zscore(b.keys.leases, raw),
        `a message not acked keeps its lease: ${short([raw])} lost it`,
      ).not.toBeNull();
    }
  });

  it('00.3 an ack for a message not held changes nothing and returns false', async () => {
    const b = await broker();
    const r = await redis();
    // Never reserved: an ack after the lease ran out and recover() gave it back looks like this.
    const [stranger] = messages(1);
    expect(await b.ack(stranger!, record(stranger!)), 'nothing was held').toBe(false);
    expect(
      await r.exists(b.keys.result(idOf(stranger!))),
      'an ack for a message not held stores no result: another worker will run it and store its own',
    ).toBe(0);
    expect((await b.stats()).succeeded, 'a message never held is not counted').toBe(0);
    // Acked twice (a retried reply, a late duplicate): the second ack finds nothing and changes nothing.
    const [raw] = messages(1);
    await b.push([raw!]);
    await b.reserve(1, 1000);
    expect(await b.ack(raw!, record(raw!, 'SUCCESS'))).toBe(true);
    expect(await b.ack(raw!, record(raw!, 'FAILURE')), 'the second ack of one message: not held').toBe(false);
    expect((await b.result(idOf(raw!)))?.state, 'the second ack does not overwrite the result').toBe(
      'SUCCESS',
    );
    const stats = await b.stats();
    expect(
      [stats.succeeded, stats.failed],
      'a message acked twice, or never held, is not counted again: [succeeded, failed] = [1, 0]',
    ).toEqual([1, 0]);
  });
});

describe('00.4 recover', () => {
  it('00.4 gives back a message whose lease ran out', async () => {
    const b = await broker(1000);
    const raws = messages(2);
    await b.push(raws);
    const held: string[] = [];
    while (held.length < 2) held.push(...(await b.reserve(2 - held.length, 1000)));
    const r = await redis();
    // Just past the later deadline, by Redis's own record of it: a busy machine only makes the wait longer.
    const deadlines = await Promise.all(held.map(async (raw) => Number(await r.zscore(b.keys.leases, raw))));
    while (Date.now() <= Math.max(...deadlines) + 20) await pause(20);
    expect(
      await b.recover(),
      'both leases ran out: their deadlines (ZADD scores) are in the past, so recover() gives both back now',
    ).toBe(2);
    const stats = await b.stats();
    expect([stats.waiting, stats.active], 'back in waiting, not in active').toEqual([2, 0]);
    expect(await r.zcard(b.keys.leases), 'their old leases are gone (ZREM), or they would leak').toBe(0);
    const again: string[] = [];
    while (again.length < 2) again.push(...(await b.reserve(2 - again.length, 500)));
    expect(again.map(idOf).sort(), 'the same messages come back').toEqual(raws.map(idOf).sort());
    for (const raw of again) {
      expect(JSON.parse(raw).redelivered, 'marked as redelivered once: RPUSH redelivered(raw)').toBe(1);
    }
  });

  it('00.4 gives back to the side workers take from: a recovered message goes first', async () => {
    const b = await broker(200);
    const [lost, fresh] = messages(2);
    await b.push([lost!]);
    await b.reserve(1, 1000);
    await pause(350);
    await b.push([fresh!]);
    expect(await b.recover()).toBe(1);
    const next = await b.reserve(1, 1000);
    expect(
      next.map(idOf),
      'a message given back waited long enough: it goes on the side workers take from (RPUSH), before newer ones',
    ).toEqual([idOf(lost!)]);
  });

  it('00.4 leaves a message with a live lease alone', async () => {
    const b = await broker(30_000);
    const raws = messages(1);
    await b.push(raws);
    await b.reserve(1, 1000);
    expect(await b.recover(), 'a lease that has not run out belongs to a live worker').toBe(0);
    expect((await b.stats()).active).toBe(1);
  });

  it('00.4 gives back only what is still in flight: a stale lease is dropped, never run twice', async () => {
    const b = await broker(200);
    const [raw] = messages(1);
    // A lease whose message is no longer in active: its worker acked it (and, say, crashed before cleaning up
    // the lease). The work is done; pushing it back to waiting would run it twice.
    const r = await redis();
    await r.zadd(b.keys.leases, Date.now() - 1000, raw!);
    expect(await b.recover(), 'nothing in flight to give back: recover() counts only what it gave back').toBe(
      0,
    );
    const [waiting, lease] = await Promise.all([r.llen(b.keys.waiting), r.zscore(b.keys.leases, raw!)]);
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
      await worker.untilSettled(40, 20_000);
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
