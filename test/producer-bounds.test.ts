/**
 * Every producer call is bounded: with Redis stopped or hung, enqueue(), stats() and result() fail on time with one
 * line, a short restart is ridden out, and nothing given up on is sent later. The worker says once when Redis has
 * been unreachable for a few seconds and once when it is back. Each test runs its own redis-server, to stop it.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../mini-queue/errors.ts';
import { Queue, RedisUnavailableError } from '../mini-queue/queue.ts';
import { findRedisServer } from '../mini-queue/redis/embedded.ts';
import { Worker } from '../mini-queue/worker.ts';
import { until } from './helpers/queues.ts';
import { TestRedis } from './helpers/redis-server.ts';

const FIXTURE_TASKS = fileURLToPath(new URL('./fixtures/chassis-tasks.ts', import.meta.url));
const cleanup: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});

/** A private Redis; it keeps its data across a restart (an append-only file, written at every command). */
async function server(): Promise<{ redis: TestRedis; url: string }> {
  const redis = await TestRedis.start(['--save', '', '--appendonly', 'yes', '--appendfsync', 'always']);
  cleanup.push(() => redis.destroy());
  return { redis, url: `redis://127.0.0.1:${redis.port}` };
}

function producer(url: string, extra: Partial<ConstructorParameters<typeof Queue>[0]> = {}): Queue {
  const queue = new Queue({ name: 'bounds', url, ...extra });
  cleanup.push(() => queue.close());
  return queue;
}

/** How long `promise` took to reject, and with what. */
async function rejection(promise: Promise<unknown>): Promise<{ ms: number; error: Error }> {
  const start = Date.now();
  try {
    await promise;
  } catch (error) {
    return { ms: Date.now() - start, error: error as Error };
  }
  throw new Error('expected a rejection');
}

describe.skipIf(!findRedisServer())('producer calls are bounded', () => {
  it('Redis stopped: enqueue(), result({ timeout: 3000 }) and stats() reject within 5 s, in one line', async () => {
    const { redis, url } = await server();
    const queue = producer(url);
    const handle = await queue.enqueue('add', [1, 2]);
    await redis.down();
    // All three at once, each with its handler from the start: awaited one by one, a call that rejects while an
    // earlier one is still awaited would be an unhandled rejection.
    const calls = {
      enqueue: rejection(queue.enqueue('add', [3, 4])),
      result: rejection(handle.result({ timeout: 3000 })),
      stats: rejection(queue.stats()),
    };
    for (const [name, call] of Object.entries(calls)) {
      const { ms, error } = await call;
      expect(ms, `${name} rejects within 5 s`).toBeLessThan(5000);
      expect(error, name).toBeInstanceOf(RedisUnavailableError);
      expect(error, `${name}: a UserError, printed as one line by every command`).toBeInstanceOf(UserError);
      expect(error.message.split('\n'), name).toHaveLength(1);
      expect(error.message, name).toMatch(
        new RegExp(`Redis at ${url.replaceAll('.', '\\.')} is unreachable \\(connect ECONNREFUSED`),
      );
    }
    // What gave up was never sent: back up, Redis holds only the first task.
    await redis.up();
    expect(await queue.stats()).toMatchObject({ waiting: 1 });
  });

  it('a restart shorter than the deadline costs a delay, not an error', async () => {
    const { redis, url } = await server();
    const queue = producer(url, { callTimeoutMs: 4000 });
    await queue.enqueue('add', [1, 2]);
    await redis.down();
    const during = queue.enqueue('add', [3, 4]);
    await new Promise((r) => setTimeout(r, 500));
    await redis.up();
    await during;
    expect(await queue.stats(), 'the second sent once, after the restart').toMatchObject({ waiting: 2 });
  });

  it('Redis hung (SIGSTOP): result() keeps its own deadline, enqueue() says it may still apply', async () => {
    const { redis, url } = await server();
    const queue = producer(url, { callTimeoutMs: 1000 });
    const handle = await queue.enqueue('add', [1, 2]);
    redis.signal('SIGSTOP');
    cleanup.push(async () => redis.signal('SIGCONT'));
    const waited = await rejection(handle.result({ timeout: 1500 }));
    expect(waited.ms).toBeGreaterThanOrEqual(1400);
    expect(waited.ms, 'the deadline holds while the read hangs').toBeLessThan(2500);
    expect(waited.error.message).toBe(
      `no result for task ${handle.id} within 1500 ms: no answer from Redis at ${url}`,
    );
    const sent = await rejection(queue.enqueue('add', [3, 4]));
    expect(sent.ms).toBeLessThan(2000);
    expect(sent.error.message).toBe(
      `enqueue 'add' gave up after 1000 ms: no answer from Redis at ${url} (what was sent may still be applied)`,
    );
  });

  it('a Queue that could not connect tries again on its next call', async () => {
    const { redis, url } = await server();
    await redis.down();
    const queue = producer(url);
    const first = await rejection(queue.stats());
    expect(first.ms, 'a refused first connection fails at once').toBeLessThan(1000);
    expect(first.error.message).toMatch(
      /^Cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED/,
    );
    await redis.up();
    expect(await queue.stats()).toMatchObject({ waiting: 0 });
  });
});

describe.skipIf(!findRedisServer())('the worker during an outage', () => {
  it('says once when Redis has been unreachable for 3 s, once when it is back, and carries on', async () => {
    const { redis, url } = await server();
    const worker = await Worker.start({ queue: 'bounds', url, blockMs: 100, tasksPath: FIXTURE_TASKS });
    cleanup.push(() => worker.stop());
    const warnings: string[] = [];
    worker.on('warning', (line) => warnings.push(line));
    await redis.down();
    await new Promise((r) => setTimeout(r, 5000));
    await redis.up();
    await until(() => warnings.length >= 2, 10_000);
    const queue = producer(url);
    expect(await (await queue.enqueue('add', [2, 3])).result({ timeout: 10_000 })).toBe(5);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(
      /^Redis at redis:\/\/127\.0\.0\.1:\d+ unreachable for 3\.\d s \(connect ECONNREFUSED [^)]*\); waiting for it to come back$/,
    );
    expect(warnings[1]).toMatch(/^Redis at redis:\/\/127\.0\.0\.1:\d+ is back after [5-9]\.\d s$/);
  });

  it('says nothing about a dropped connection that comes back at once', async () => {
    const { redis, url } = await server();
    const worker = await Worker.start({ queue: 'bounds', url, blockMs: 100, tasksPath: FIXTURE_TASKS });
    cleanup.push(() => worker.stop());
    const warnings: string[] = [];
    worker.on('warning', (line) => warnings.push(line));
    await redis.down();
    await redis.up();
    const queue = producer(url);
    expect(await (await queue.enqueue('add', [2, 3])).result({ timeout: 10_000 })).toBe(5);
    await new Promise((r) => setTimeout(r, 3500));
    expect(warnings).toEqual([]);
  });
});
