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

describe.skipIf(unavailable !== undefined)(
  `Redis Cluster failover${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    let cluster: TestCluster;

    beforeAll(async () => {
      cluster = await TestCluster.start({ nodeTimeoutMs: 2000 });
    }, 60_000);

    afterAll(async () => {
      await cluster?.destroy();
    });

    it('10,000 tasks over 3 queues on 3 masters, a master killed mid-run: every task acknowledged to the producer ends SUCCESS, duplicates counted', async () => {
      const byMaster = await queuesByMaster(cluster, 'failover');
      const [victim, ...others] = [...byMaster.entries()];
      const [victimPort, victimQueue] = victim!;
      const queues = [...byMaster.values()];
      const upFront = 3000;
      const trickle = 1000;
      const runs = new Map<string, number>();
      const succeeded = new Set<string>();
      /** Task id -> its queue, for every task whose enqueue the producer was told succeeded. */
      const acknowledged = new Map<string, string>();
      const started = Date.now();
      const producers = new Map(
        queues.map((q) => [q, new Queue({ queue: q, url: cluster.url, callTimeoutMs: 10_000 })]),
      );
      const enqueue = async (queue: string, n: number) => {
        const handles = await producers.get(queue)!.enqueueMany(
          'noop',
          Array.from({ length: n }, () => []),
        );
        for (const h of handles) acknowledged.set(h.id, queue);
      };
      const doneIn = (queue: string) => [...succeeded].filter((id) => acknowledged.get(id) === queue).length;
      const workers: Worker[] = [];
      try {
        for (const queue of queues) for (let i = 0; i < upFront; i += 500) await enqueue(queue, 500);
        // One worker per queue (a worker serves one queue), in this process: what is measured is Redis's
        // failover, not the workers'. No watchdog thread: noop cannot run away, and three more threads would
        // crowd 2 cores.
        for (const queue of queues) {
          const worker = await Worker.start({
            queue,
            url: cluster.url,
            fastPath: true,
            prefetchMultiplier: 8,
            visibilityMs: 4000,
            blockMs: 200,
            watchdog: false,
          });
          worker.on('task', (run: TaskRun) => {
            runs.set(run.id, (runs.get(run.id) ?? 0) + 1);
            if (run.state === 'SUCCESS') succeeded.add(run.id);
          });
          worker.on('warning', () => {});
          workers.push(worker);
        }
        // Mid-run (a third of the victim's queue done), the producer starts writing to the victim's queue, and
        // keeps on across the kill: its last acknowledged writes are what asynchronous replication can drop.
        while (doneIn(victimQueue) < upFront / 3) await sleep(20);
        let sent = 0;
        const trickling = (async () => {
          while (sent < trickle) {
            try {
              await enqueue(victimQueue, 20);
              sent += 20;
            } catch {
              // Not acknowledged: maybe applied, maybe not. Such a task may run, but counts for nothing.
            }
            await sleep(5);
          }
        })();
        while (sent < trickle / 5) await sleep(5);
        const leftAtKill = upFront + sent - doneIn(victimQueue);
        await cluster.kill(victimPort);
        const killedAt = Date.now();
        let newMaster = victimPort;
        while (newMaster === victimPort && Date.now() - killedAt < 60_000) {
          await sleep(100);
          newMaster = await cluster.masterOf(queueKeys(victimQueue).waiting).catch(() => victimPort);
        }
        const failoverMs = Date.now() - killedAt;
        expect(newMaster).not.toBe(victimPort);
        expect(others.map(([port]) => port)).not.toContain(newMaster);
        await trickling;
        // Until every acknowledged task has succeeded, or nothing moved for three visibility timeouts.
        let last = -1;
        let still = Date.now();
        for (;;) {
          const done = [...acknowledged.keys()].filter((id) => succeeded.has(id)).length;
          if (done === acknowledged.size) break;
          if (done !== last) {
            last = done;
            still = Date.now();
          } else if (Date.now() - still > 12_000) break;
          await sleep(250);
        }
        const lost = [...acknowledged.keys()].filter((id) => !succeeded.has(id));
        const count = {
          acknowledged: acknowledged.size,
          lost: lost.length,
          duplicates: [...acknowledged.keys()].reduce(
            (sum, id) => sum + Math.max(0, (runs.get(id) ?? 0) - 1),
            0,
          ),
          leftAtKill,
          failoverMs,
          durationMs: Date.now() - started,
        };
        console.log(`cluster failover: ${JSON.stringify(count)}`);
        // Every task that ran has its SUCCESS record where its queue lives now (the new master for the victim's).
        const redis = await connectRedis({ url: cluster.url });
        try {
          const records = await Promise.all(
            [...acknowledged]
              .filter(([id]) => succeeded.has(id))
              .map(([id, queue]) => redis.get(queueKeys(queue).result(id))),
          );
          const notSuccess = records.filter((r) => r === null || JSON.parse(r).state !== 'SUCCESS');
          expect(notSuccess).toHaveLength(0);
        } finally {
          redis.disconnect();
        }
        expect(count.acknowledged).toBe(3 * upFront + trickle);
        expect(count.lost).toBeLessThanOrEqual(LOST_AT_MOST);
        expect(count.duplicates).toBeLessThanOrEqual(DUPLICATES_AT_MOST);
      } finally {
        await Promise.all(workers.map((w) => w.stop({ cold: true }).catch(() => {})));
        for (const producer of producers.values()) await producer.close();
      }
    }, 240_000);
  },
);

/** The README's bounds on what one failover may cost (its Redis section, "across a failover"). */
const LOST_AT_MOST = 100;
const DUPLICATES_AT_MOST = 1000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function dropAll(url: string, queues: string[]): Promise<void> {
  const redis: Redis = await connectRedis({ url });
  try {
    for (const queue of queues) await deleteQueue(redis, queue);
    for (const queue of queues) expect(await redis.exists(queueKeys(queue).stats)).toBe(0);
  } finally {
    redis.disconnect();
  }
}
