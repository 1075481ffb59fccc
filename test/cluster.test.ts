import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteQueue } from '../mini-queue/admin.ts';
import { Queue, type TaskRun, Worker } from '../mini-queue/index.ts';
import { queueKeys } from '../mini-queue/keys.ts';
import { connectRedis } from '../mini-queue/redis/client.ts';
import { run } from './helpers/cli.ts';
import { clusterUnavailable, TestCluster } from './helpers/redis-cluster.ts';

/**
 * Redis Cluster, for real: a cluster of the test's own (3 masters, 3 replicas, from redis-server), queues whose
 * slots sit on three different masters, workers on all of them, and a master killed mid-run.
 */
const unavailable = await clusterUnavailable();

/** One queue name per master: names are tried until each master holds the slot of one of them. */
async function queuesOnEachMaster(cluster: TestCluster, label: string): Promise<string[]> {
  return [...(await queuesByMaster(cluster, label)).values()];
}

/** Master port -> the name of a queue whose slot it holds, for each of the 3 masters. */
async function queuesByMaster(cluster: TestCluster, label: string): Promise<Map<number, string>> {
  const byMaster = new Map<number, string>();
  for (let i = 0; byMaster.size < 3; i++) {
    const name = `cluster-${label}-${process.pid}-${i}`;
    const master = await cluster.masterOf(queueKeys(name).waiting);
    if (!byMaster.has(master)) byMaster.set(master, name);
  }
  return byMaster;
}

describe.skipIf(unavailable !== undefined)(
  `Redis Cluster${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    let cluster: TestCluster;

    beforeAll(async () => {
      cluster = await TestCluster.start({ nodeTimeoutMs: 2000 });
    }, 60_000);

    afterAll(async () => {
      await cluster?.destroy();
    });

    it('a plain redis:// URL of a cluster node gets one line that names the cluster URL to use', async () => {
      const port = cluster.nodes[0]!.port;
      const node = `redis://127.0.0.1:${port}`;
      await expect(connectRedis({ url: node })).rejects.toThrow(
        `is a Redis Cluster node, which holds only some queues' slots (the others answer MOVED): use redis+cluster://127.0.0.1:${port}`,
      );
      // A queue whose slot is on another master: this node would answer MOVED for it.
      const queue = [...(await queuesByMaster(cluster, 'plain')).entries()].find(([m]) => m !== port)![1];
      for (const args of [
        ['enqueue', 'noop', '[]', '--queue', queue!],
        ['stats', '--queue', queue!],
      ]) {
        const ran = await run(['mini-queue', ...args], { REDIS_URL: node });
        expect(ran.code, ran.stderr).not.toBe(0);
        expect(ran.stderr.trim().split('\n')).toHaveLength(1);
        expect(ran.stderr).toContain('use redis+cluster://');
        expect(ran.stderr).not.toMatch(/ReplyError|MOVED \d|EXECABORT|\n\s+at /);
      }
    }, 60_000);

    it('the CLI enqueues and counts on a queue whose slot is on any master (REDIS_URL=redis+cluster://)', async () => {
      const queues = await queuesOnEachMaster(cluster, 'cli');
      // One seed node is enough: ioredis learns the others from it.
      const env = { REDIS_URL: `redis+cluster://127.0.0.1:${cluster.nodes[0]!.port}` };
      try {
        for (const queue of queues) {
          const enqueued = await run(
            ['mini-queue', 'enqueue', 'noop', '[]', '--count', '3', '--queue', queue],
            env,
          );
          expect(enqueued.code, enqueued.stderr).toBe(0);
          const stats = await run(['mini-queue', 'stats', '--queue', queue], env);
          expect(stats.code, stats.stderr).toBe(0);
          expect(JSON.parse(stats.stdout)).toMatchObject({ waiting: 3, active: 0 });
        }
      } finally {
        await dropAll(cluster.url, queues);
      }
    }, 60_000);

    it('workers serve three queues on three masters, through the fast path and through lab 00’s reserve()', async () => {
      const queues = await queuesOnEachMaster(cluster, 'basic');
      const perQueue = 200;
      try {
        const workers = await Promise.all(
          queues.map((queue, i) =>
            // Queue 0 through lab 00's own reserve() (BLMOVE on the blocking Cluster connection), the others
            // through the fast path's Lua script.
            Worker.start({ queue, url: cluster.url, fastPath: i > 0, concurrency: 1, blockMs: 200 }),
          ),
        );
        const settled = workers.map((w) => w.untilSettled(perQueue, 60_000));
        for (const queue of queues) {
          const producer = new Queue({ queue, url: cluster.url });
          await producer.enqueueMany(
            'noop',
            Array.from({ length: perQueue }, () => []),
          );
          await producer.close();
        }
        const runs = (await Promise.all(settled)).flat();
        await Promise.all(workers.map((w) => w.stop()));
        expect(runs.filter((r) => r.state === 'SUCCESS')).toHaveLength(3 * perQueue);
        for (const queue of queues) {
          const producer = new Queue({ queue, url: cluster.url });
          expect(await producer.stats()).toMatchObject({
            waiting: 0,
            active: 0,
            succeeded: perQueue,
            dead: 0,
          });
          await producer.close();
        }
      } finally {
        await dropAll(cluster.url, queues);
      }
    }, 120_000);
  },
);

async function dropAll(url: string, queues: string[]): Promise<void> {
  const redis: Redis = await connectRedis({ url });
  try {
    for (const queue of queues) await deleteQueue(redis, queue);
    for (const queue of queues) expect(await redis.exists(queueKeys(queue).stats)).toBe(0);
  } finally {
    redis.disconnect();
  }
}

export type { TaskRun };
