import type { Redis } from 'ioredis';
import { queueKeys } from './keys.ts';
import { connectRedis } from './redis/client.ts';

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

/** Deletes every key matching a SCAN pattern, a batch at a time. Returns how many keys went. */
export async function deleteMatching(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
