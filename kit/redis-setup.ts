import { resolveRedisUrl } from '../mini-queue/redis/resolve.ts';

/**
 * One Redis for the whole run: the machine's (REDIS_URL or 127.0.0.1:6379), or, on a laptop with redis-server
 * installed but not running, one private instance started here. Its URL goes into REDIS_URL, which every test
 * worker and every process they spawn inherits; it stops when vitest exits.
 */
export default async function setup(): Promise<void> {
  await resolveRedisUrl();
}
