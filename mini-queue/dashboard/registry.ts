/**
 * The running dashboard's address, for demos to print (the monitor's `dashboardUrl()` reads it): `mq:dashboard`
 * holds the URL while a dashboard runs. It expires on its own (PX 6000, refreshed every 2 s), so a dashboard
 * killed with kill -9 is forgotten within 6 s; a clean stop deletes it at once, but only while it is still its
 * own: a second dashboard started since has written its URL there, and that one is still running.
 */
import type { Redis } from 'ioredis';
import { DASHBOARD_KEY } from '../monitor/index.ts';

const TTL_MS = 6000;
const REFRESH_MS = 2000;

// Compare and delete in one step: between a GET and a DEL another dashboard could write its URL.
const DELETE_IF_OURS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface Registration {
  /** Stops refreshing and deletes the key if it still holds our URL. */
  close(): Promise<void>;
}

export async function register(redis: Redis, url: string): Promise<Registration> {
  const write = () => redis.set(DASHBOARD_KEY, url, 'PX', TTL_MS);
  await write();
  const timer = setInterval(() => {
    // A Redis that is down for a moment: the next refresh writes it again, within the key's lifetime.
    write().catch(() => {});
  }, REFRESH_MS);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await redis.eval(DELETE_IF_OURS, 1, DASHBOARD_KEY, url);
    },
  };
}
