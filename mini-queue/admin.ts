import type { Redis } from 'ioredis';
import { queueKeys } from './keys.ts';
import { connectRedis } from './redis/client.ts';
import { eachMaster, isCluster } from './redis/cluster.ts';

/** Deletes every key of one queue (SCAN + UNLINK, never FLUSHALL). Returns how many keys went. */
export function deleteQueue(redis: Redis, queue: string): Promise<number> {
  return deleteMatching(redis, queueKeys(queue).pattern.replace(/[[\]?]/g, '\\$&'));
}

/**
 * Deletes every key of the given queues on a connection of its own, for clean-up code that holds none (a demo's
 * `finally`, a test's afterEach). Nothing to delete, nothing connected.
 */
export async function dropQueues(names: string[]): Promise<void> {
  if (names.length === 0) return;
  const redis = await connectRedis();
  try {
    for (const name of names) await deleteQueue(redis, name);
  } finally {
    redis.disconnect();
  }
}

/**
 * Deletes every key matching a SCAN pattern, a batch at a time. Returns how many keys went. On a cluster, SCAN
 * sees one node: each master is scanned, and keys go one UNLINK each, since a pattern may span slots.
 */
export async function deleteMatching(redis: Redis, pattern: string): Promise<number> {
  let deleted = 0;
  for (const node of eachMaster(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length === 0) continue;
      deleted += isCluster(redis)
        ? (await Promise.all(keys.map((key) => redis.unlink(key)))).reduce((a, b) => a + b, 0)
        : await redis.unlink(...keys);
    } while (cursor !== '0');
  }
  return deleted;
}

/**
 * Sets a TTL on every key one queue has now (keys it gets later need another call). Returns how many keys got
 * one. For throw-away queues: a backstop, so a process that dies before its clean-up leaves nothing for ever.
 */
export async function expireQueue(redis: Redis, queue: string, seconds: number): Promise<number> {
  const pattern = queueKeys(queue).pattern.replace(/[[\]?]/g, '\\$&');
  let expired = 0;
  // One queue's keys share a slot, so one master holds them all and one pipeline may carry them.
  for (const node of eachMaster(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) {
        const pipeline = redis.pipeline();
        for (const key of keys) pipeline.expire(key, seconds);
        const replies = (await pipeline.exec()) ?? [];
        expired += replies.filter(([, set]) => set === 1).length;
      }
    } while (cursor !== '0');
  }
  return expired;
}
