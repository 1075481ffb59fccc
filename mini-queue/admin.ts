import type { Redis } from 'ioredis';
import { queueKeys } from './keys.ts';

/** Deletes every key of one queue (SCAN + UNLINK, never FLUSHALL). Returns how many keys went. */
export function deleteQueue(redis: Redis, queue: string): Promise<number> {
  return deleteMatching(redis, queueKeys(queue).pattern.replace(/[[\]?]/g, '\\$&'));
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
