/**
 * Faults that must lose nothing: a cold shutdown, a task that keeps killing its worker, dropped connections, a
 * Redis restart, TLS with a password, random delays on every command (the checker's chaos). Each asserts the
 * final counts: succeeded + failed = enqueued, none stuck.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { installRedisChaos } from '../checker/redis-chaos.ts';
import { openBroker } from '../mini-queue/parts.ts';
import { Queue } from '../mini-queue/queue.ts';
import { connectRedis } from '../mini-queue/redis/client.ts';
import { findRedisServer } from '../mini-queue/redis/embedded.ts';
import { Worker } from '../mini-queue/worker.ts';
import { run } from './helpers/cli.ts';
import { until, useQueues } from './helpers/queues.ts';
import { TestRedis } from './helpers/redis-server.ts';

const FIXTURE_TASKS = fileURLToPath(new URL('./fixtures/chassis-tasks.ts', import.meta.url));
const queues = useQueues('faults');
const cleanup: Array<() => Promise<unknown>> = [];
const hasRedisServer = findRedisServer() !== undefined;

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});

async function producer(name: string, url?: string): Promise<Queue> {
  const queue = new Queue({ name, ...(url ? { url } : {}) });
  cleanup.push(() => queue.close());
  return queue;
}

async function worker(name: string, extra: Parameters<typeof Worker.start>[0] = {}): Promise<Worker> {
  const w = await Worker.start({ queue: name, blockMs: 100, tasksPath: FIXTURE_TASKS, ...extra });
  cleanup.push(() => w.stop());
  return w;
}

describe('faults lose nothing', () => {
  it('a cold stop gives the held messages back at once; another worker runs them', async () => {
    const name = queues.name();
    const queue = await producer(name);
    const first = await worker(name, { pool: 'solo' });
    const handle = await queue.enqueue('slow', [400]);
    await until(async () => (await handle.state()) === 'STARTED');
    await first.stop({ cold: true });
    const stats = await queue.stats();
    expect([stats.waiting, stats.active], 'given back now, not after the visibility timeout').toEqual([1, 0]);
    await worker(name);
    expect(await handle.result({ timeout: 5000 })).toBe(400);
    // The first worker's in-process run also finished: its late ack found nothing held and counted nothing.
    await new Promise((r) => setTimeout(r, 500));
    expect(await queue.stats()).toMatchObject({ succeeded: 1, failed: 0, waiting: 0, active: 0 });
  });

  it('a task whose worker keeps dying ends in FAILURE (WorkerLost) instead of looping', async () => {
    const name = queues.name();
    const queue = await producer(name);
    const handle = await queue.enqueue('add', [1, 2]);
    // Three workers in a row reserve it and die without a word (think kill -9 mid-task).
    for (let death = 0; death < 3; death++) {
      const doomed = await openBroker({ queue: name, visibilityMs: 100 });
      expect(await doomed.reserve(1, 2000)).toHaveLength(1);
      await doomed.close();
      await new Promise((r) => setTimeout(r, 150));
      const rescuer = await openBroker({ queue: name, visibilityMs: 100 });
      expect(await rescuer.recover(), 'the lease ran out: back to waiting').toBe(1);
      await rescuer.close();
    }
    await worker(name, { maxRedeliveries: 2 });
    await expect(handle.result({ timeout: 5000 })).rejects.toThrow(
      /WorkerLost: the worker running this task died 3 times/,
    );
    expect(await queue.stats()).toMatchObject({ succeeded: 0, failed: 1, waiting: 0, active: 0 });
  });

  it('connections killed mid-run (CLIENT KILL): the worker reconnects; every task counted once', async () => {
    const name = queues.name();
    const queue = await producer(name);
    const total = 150;
    await queue.enqueueMany(
      'slow',
      Array.from({ length: total }, () => [5]),
    );
    // A BLMOVE whose reply dies with its connection has moved a message nobody runs: it comes back after the
    // visibility timeout, so keep that short here.
    const w = await worker(name, { pool: 'solo', visibilityMs: 1000 });
    let done = 0;
    w.on('task', () => done++);
    const admin = await connectRedis();
    cleanup.push(async () => admin.disconnect());
    for (const at of [20, 60, 100]) {
      await until(() => done >= at, 20_000);
      // Kill this worker's connections only (by name): the Redis is shared with other tests.
      const clients = String(await admin.client('LIST')).split('\n');
      const ours = clients.filter((line) => line.includes(`name=mq:${name}`));
      expect(ours.length).toBeGreaterThan(0);
      for (const line of ours) await admin.client('KILL', 'ID', /id=(\d+)/.exec(line)![1]!);
    }
    await until(async () => (await queue.stats()).succeeded === total, 30_000);
    expect(await queue.stats()).toMatchObject({
      succeeded: total,
      failed: 0,
      waiting: 0,
      active: 0,
      dead: 0,
    });
  });

  it.skipIf(!hasRedisServer)(
    'Redis restarted mid-run: the worker reconnects; nothing acked is lost',
    async () => {
      const server = await TestRedis.start(['--appendonly', 'yes', '--appendfsync', 'always', '--save', '']);
      cleanup.push(() => server.destroy());
      const url = `redis://127.0.0.1:${server.port}`;
      const name = queues.name();
      const queue = await producer(name, url);
      const total = 100;
      await queue.enqueueMany(
        'slow',
        Array.from({ length: total }, () => [10]),
      );
      const w = await worker(name, { url, visibilityMs: 1000 });
      let done = 0;
      w.on('task', () => done++);
      await until(() => done >= 30, 20_000);
      await server.down();
      await new Promise((r) => setTimeout(r, 300));
      await server.up();
      await until(async () => (await queue.stats()).succeeded === total, 30_000);
      expect(await queue.stats()).toMatchObject({ succeeded: total, failed: 0, waiting: 0, active: 0 });
    },
  );

  it.skipIf(!hasRedisServer)('works over TLS (rediss://) with a password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mq-tls-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'],
        ...['-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert],
      ],
      { stdio: 'ignore' },
    );
    const tls = [
      '--tls-cert-file',
      cert,
      '--tls-key-file',
      key,
      '--tls-ca-cert-file',
      cert,
      '--tls-auth-clients',
      'no',
    ];
    const secured = await TestRedis.start([...tls, '--requirepass', 's3cret', '--save', ''], { tls: true });
    cleanup.push(() => secured.destroy());
    const env = { REDIS_URL: `rediss://:s3cret@127.0.0.1:${secured.port}`, NODE_EXTRA_CA_CERTS: cert };
    const name = queues.name();
    expect(
      (await run(['mini-queue', 'enqueue', 'fib', '[15]', '--count', '5', '--queue', name], env)).code,
    ).toBe(0);
    const wrong = await run(['mini-queue', 'stats', '--queue', name], {
      ...env,
      REDIS_URL: `rediss://:nope@127.0.0.1:${secured.port}`,
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(
      /Cannot reach Redis at rediss:\/\/:\*\*\*@127\.0\.0\.1:\d+ \(REDIS_URL\): WRONGPASS/,
    );
    const stats = await run(['mini-queue', 'stats', '--queue', name], env);
    expect(JSON.parse(stats.stdout)).toMatchObject({ waiting: 5 });
  });
});

describe('chaos: random delays around every Redis command (npm run check -- --repeat)', () => {
  /** Sends `n` RPUSHes at once on a new connection and reads the list back. */
  async function burst(key: string, n: number): Promise<string[]> {
    const redis = await connectRedis({ name: 'test-chaos' });
    try {
      await Promise.all(Array.from({ length: n }, (_, i) => redis.rpush(key, String(i))));
      const list = await redis.lrange(key, 0, -1);
      await redis.del(key);
      return list;
    } finally {
      redis.disconnect();
    }
  }

  it('delays commands, reproducibly for a seed, and keeps their order on a connection', async () => {
    const key = `${queues.name()}:chaos-order`;
    const counted: Array<{ commands: number; delayed: number }> = [];
    let last = installRedisChaos(7);
    for (let round = 0; round < 2; round++) {
      if (round > 0) last = installRedisChaos(7);
      try {
        const list = await burst(key, 100);
        expect(list, 'sent in order, kept in order').toEqual(
          Array.from({ length: 100 }, (_, i) => String(i)),
        );
      } finally {
        last.uninstall();
      }
      counted.push({ commands: last.commands, delayed: last.delayed });
    }
    expect(counted[0]!.delayed, 'some commands were held back').toBeGreaterThan(10);
    expect(counted[0]!.delayed).toBeLessThan(counted[0]!.commands);
    expect(counted[1], 'the same seed delays the same commands').toEqual(counted[0]);
    await burst(key, 10);
    expect(
      { commands: last.commands, delayed: last.delayed },
      'uninstalled: a new connection is left alone',
    ).toEqual(counted[1]);
  });

  it('a worker under chaos (fast path on) still runs every task exactly once', async () => {
    const chaos = installRedisChaos(11);
    cleanup.push(async () => chaos.uninstall());
    const name = queues.name();
    const queue = await producer(name);
    await queue.enqueueMany(
      'add',
      Array.from({ length: 200 }, (_, i) => [i, 1]),
    );
    const w = await worker(name, { pool: 'event-loop', concurrency: 20, fastPath: true });
    const runs = await w.untilSettled(200, 30_000);
    expect(new Set(runs.map((r) => r.id)).size, 'each task once').toBe(200);
    expect(await queue.stats()).toMatchObject({ succeeded: 200, failed: 0, waiting: 0, active: 0, dead: 0 });
    expect(chaos.delayed, 'the delays happened').toBeGreaterThan(0);
  });
});
