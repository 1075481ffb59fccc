import type { Redis } from 'ioredis';
import { queueKeys } from './keys.ts';

/** Deletes every key of one queue (SCAN + UNLINK, never FLUSHALL). Returns how many keys went. */
export async function deleteQueue(redis: Redis, queue: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(
      cursor,
      'MATCH',
      queueKeys(queue).pattern.replace(/[[\]?]/g, '\\$&'),
      'COUNT',
      500,
    );
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
