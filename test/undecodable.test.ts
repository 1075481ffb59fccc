/**
 * Messages whose bytes are not UTF-8 (any non-Node producer can send them): ioredis hands the worker a string
 * with U+FFFD where those bytes were, and no command sent with that string matches what Redis holds. Each must end
 * in the dead list exactly once, by its exact bytes, with nothing left in flight, while good messages around it
 * succeed, with the fast path on and off, and also when a worker died holding it.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { queueKeys } from '../mini-queue/keys.ts';
import { openBroker } from '../mini-queue/parts.ts';
import { Queue } from '../mini-queue/queue.ts';
import { firstInvalidUtf8 } from '../mini-queue/undecodable.ts';
import { Worker } from '../mini-queue/worker.ts';
import { until, useQueues } from './helpers/queues.ts';

const FIXTURE_TASKS = fileURLToPath(new URL('./fixtures/chassis-tasks.ts', import.meta.url));
const queues = useQueues('undecodable');
const cleanup: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});

/** Short, so several visibility periods pass within the test: a re-bury would show. */
const VISIBILITY_MS = 400;

/** Not JSON at all: "junk \xFF\xFE here". */
const JUNK = Buffer.concat([Buffer.from('junk '), Buffer.from([0xff, 0xfe]), Buffer.from(' here')]);

/** A valid envelope of a known task, but its string argument holds the bytes FF FE. */
function poisonedEnvelope(id: string): Buffer {
  const [head, tail] = JSON.stringify({
    id,
    task: 'add',
    args: ['@@', 2],
    attempt: 0,
    enqueuedAt: Date.now(),
  }).split('@@') as [string, string];
  return Buffer.concat([Buffer.from(head), Buffer.from([0xff, 0xfe]), Buffer.from(tail)]);
}

async function setup(fastPath: boolean) {
  const name = queues.name();
  const queue = new Queue({ name });
  cleanup.push(() => queue.close());
  const redis = await queues.redis();
  const start = async (extra: Parameters<typeof Worker.start>[0] = {}) => {
    const worker = await Worker.start({
      queue: name,
      blockMs: 100,
      tasksPath: FIXTURE_TASKS,
      visibilityMs: VISIBILITY_MS,
      fastPath,
      ...extra,
    });
    cleanup.push(() => worker.stop());
    const dead: string[] = [];
    worker.on('dead', ({ reason }) => dead.push(reason));
    return { worker, dead };
  };
  return { name, queue, redis, keys: queueKeys(name), start };
}

describe.each([
  ['on', true],
  ['off', false],
])('a message that is not UTF-8, fast path %s', (_label, fastPath) => {
  it('is buried once by its exact bytes; the good messages around it succeed; nothing stays in flight', async () => {
    const { queue, redis, keys, start } = await setup(fastPath);
    const poisonId = 'poisoned-0001';
    const poisoned = poisonedEnvelope(poisonId);
    const before = await queue.enqueue('add', [1, 1]);
    await redis.lpush(keys.waiting, JUNK);
    const middle = await queue.enqueue('add', [2, 2]);
    await redis.lpush(keys.waiting, poisoned);
    const after = await queue.enqueue('add', [3, 3]);

    const { dead } = await start();
    expect(await before.result({ timeout: 5000 })).toBe(2);
    expect(await middle.result({ timeout: 5000 })).toBe(4);
    expect(await after.result({ timeout: 5000 })).toBe(6);
    await until(async () => (await queue.stats()).dead === 2, 5000);
    // At once, not only after recover() has swept: a broker that leased what it read left a lease under that name.
    expect(await redis.zcard(keys.leases), 'leases gone with the message').toBe(0);

    // Several visibility periods: a message left in flight would come back and be buried again, or rerun.
    await new Promise((r) => setTimeout(r, 4 * VISIBILITY_MS));
    expect(await queue.stats()).toMatchObject({
      waiting: 0,
      active: 0,
      delayed: 0,
      succeeded: 3,
      failed: 0,
      dead: 2,
    });
    expect(await redis.zcard(keys.leases), 'no lease left behind').toBe(0);
    expect(dead).toHaveLength(2);

    const letters = (await redis.lrange(keys.dead, 0, -1)).map((l) => JSON.parse(l));
    const bytes = letters.map((l) => Buffer.from(l.rawBase64, 'base64'));
    expect(
      bytes.some((b) => b.equals(JUNK)),
      'the junk, byte for byte',
    ).toBe(true);
    expect(
      bytes.some((b) => b.equals(poisoned)),
      'the envelope, byte for byte',
    ).toBe(true);
    for (const letter of letters) expect(letter.reason).toMatch(/^not valid UTF-8: byte 0xff at offset \d+$/);
    // Never run: no STARTED (or any) record under its id.
    expect(await redis.exists(keys.result(poisonId))).toBe(0);
  });

  it('held by a worker that died: it comes back once, then is buried once', async () => {
    const { name, queue, redis, keys, start } = await setup(fastPath);
    await redis.lpush(keys.waiting, poisonedEnvelope('poisoned-0002'));
    // A worker reserves it and dies without a word (think kill -9).
    const doomed = await openBroker({ queue: name, visibilityMs: VISIBILITY_MS });
    expect(await doomed.reserve(1, 2000)).toHaveLength(1);
    await doomed.close();
    const good = await queue.enqueue('add', [4, 4]);

    const { dead } = await start();
    expect(await good.result({ timeout: 5000 })).toBe(8);
    await until(async () => (await queue.stats()).dead === 1, 5000);
    await new Promise((r) => setTimeout(r, 4 * VISIBILITY_MS));
    expect(await queue.stats()).toMatchObject({ waiting: 0, active: 0, succeeded: 1, failed: 0, dead: 1 });
    expect(await redis.zcard(keys.leases)).toBe(0);
    expect(dead).toHaveLength(1);
  });
});

describe('a message that holds U+FFFD as a character, in valid UTF-8', () => {
  it('is an ordinary message: it runs and is acked', async () => {
    const { queue, keys, redis, start } = await setup(false);
    const handle = await queue.enqueue('add', ['\uFFFD', 1]);
    const { dead } = await start();
    expect(await handle.result({ timeout: 5000 })).toBe('\uFFFD1');
    expect(await queue.stats()).toMatchObject({ active: 0, succeeded: 1, dead: 0 });
    expect(await redis.zcard(keys.leases)).toBe(0);
    expect(dead).toHaveLength(0);
  });
});

describe('two workers, many such messages, some reading the same', () => {
  it('buries each entry exactly once', async () => {
    const { queue, redis, keys, start } = await setup(true);
    // FF and FE both read as U+FFFD: "a\uFFFDb" stands for both, and for the copies of each.
    const variants = [0xff, 0xfe, 0xc0, 0xed].map((b) => Buffer.from([0x61, b, 0x62]));
    const bad = Array.from({ length: 24 }, (_, i) => variants[i % variants.length]!);
    const good = [];
    for (const bytes of bad) {
      await redis.lpush(keys.waiting, bytes);
      good.push(await queue.enqueue('add', [good.length, 1]));
    }
    // Several messages held at once by each, so two workers often hold entries that read the same.
    const first = await start({ pool: 'event-loop', concurrency: 4 });
    const second = await start({ pool: 'event-loop', concurrency: 4 });
    for (const [i, handle] of good.entries()) expect(await handle.result({ timeout: 5000 })).toBe(i + 1);
    await until(async () => (await queue.stats()).dead === bad.length, 5000);
    await new Promise((r) => setTimeout(r, 4 * VISIBILITY_MS));
    expect(await queue.stats()).toMatchObject({
      waiting: 0,
      active: 0,
      succeeded: good.length,
      dead: bad.length,
    });
    expect(await redis.zcard(keys.leases)).toBe(0);
    expect(first.dead.length + second.dead.length).toBe(bad.length);
    const letters = (await redis.lrange(keys.dead, 0, -1)).map((l) => JSON.parse(l).rawBase64 as string);
    for (const bytes of variants) {
      const copies = letters.filter((b64) => Buffer.from(b64, 'base64').equals(bytes)).length;
      expect(copies, `copies of ${bytes.toString('hex')}`).toBe(bad.length / variants.length);
    }
  });
});

describe('firstInvalidUtf8', () => {
  it("agrees with Node's decoder: -1 exactly when the bytes survive a decode and encode", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let n = 0; n < 20_000; n++) {
      // Mostly high bytes, so that lead bytes, continuations and their edges all come up.
      const bytes = Buffer.from(
        Array.from({ length: 1 + Math.floor(random() * 6) }, () =>
          random() < 0.2 ? Math.floor(random() * 0x80) : 0x80 + Math.floor(random() * 0x80),
        ),
      );
      const at = firstInvalidUtf8(bytes);
      expect(at === -1, bytes.toString('hex')).toBe(Buffer.from(bytes.toString()).equals(bytes));
      if (at >= 0) expect(firstInvalidUtf8(bytes.subarray(0, at)), bytes.toString('hex')).toBe(-1);
    }
    expect(firstInvalidUtf8(Buffer.from('h\u00e9llo \u{1F600} \uFFFD'))).toBe(-1);
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xed, 0xa0, 0x80]))).toBe(1); // a surrogate, CESU-8 style
    expect(firstInvalidUtf8(Buffer.from([0xf4, 0x90, 0x80, 0x80]))).toBe(0); // past U+10FFFF
  });
});
