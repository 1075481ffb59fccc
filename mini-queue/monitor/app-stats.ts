import type { Redis } from 'ioredis';
import { decodeAppStats, encodeAppStats } from './codec.ts';
import { type AppStats, appStatsKey } from './types.ts';

/** A web app's stats live this long after their last write: an app that stops is gone from the page soon after. */
export const APP_STATS_TTL_MS = 5000;

/** Writes a web app's latency and rate for the dashboard to show beside its queue (lab 06). */
export async function publishAppStats(redis: Redis, queue: string, stats: AppStats): Promise<void> {
  await redis.set(appStatsKey(queue), encodeAppStats(stats), 'PX', APP_STATS_TTL_MS);
}

/** The latest stats a web app wrote for this queue, if it wrote any in the last 5 s. */
export async function readAppStats(redis: Redis, queue: string): Promise<AppStats | undefined> {
  return decodeAppStats(await redis.get(appStatsKey(queue)));
}

/**
 * Calls `sample` every `intervalMs` and publishes what it returns (nothing when it returns undefined), until the
 * returned function is called. The timer is unref'd: it never keeps a process alive. A failed write is skipped:
 * the next one tries again.
 */
export function publishAppStatsEvery(
  redis: Redis,
  queue: string,
  sample: () => AppStats | undefined,
  intervalMs = 1000,
): () => void {
  let writing = false;
  const tick = () => {
    const stats = sample();
    if (stats === undefined || writing) return;
    writing = true;
    publishAppStats(redis, queue, stats)
      .catch(() => {})
      .finally(() => {
        writing = false;
      });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();
  return () => clearInterval(timer);
}
