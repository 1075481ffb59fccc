/**
 * Lab 06's web app on the dashboard: the latency its cheap visitors see (GET /health, timed by the visitors, so a
 * blocked event loop counts in full), as p50/p99 over the last two seconds, published every second next to the
 * queue (`mq:{queue}:app`, mini-queue/monitor/app-stats.ts) while a rush runs. The dashboard shows it beside the
 * queue's depth: inline, p99 climbs with every thumbnail; offloaded, it stays flat while the queue does the work.
 */
import type { Redis } from 'ioredis';
import { publishAppStatsEvery } from '../../mini-queue/monitor/app-stats.ts';
import type { AppStats } from '../../mini-queue/monitor/types.ts';
import { connectRedis } from '../../mini-queue/redis/client.ts';

const WINDOW_MS = 2000;

/** Latencies of the last WINDOW_MS, as they come. */
export class LatencyWindow {
  private samples: Array<{ at: number; ms: number }> = [];

  add(ms: number): void {
    this.samples.push({ at: performance.now(), ms });
  }

  /** p50, p99 and requests a second over the window; undefined when nothing was answered in it. */
  stats(name: string): AppStats | undefined {
    const since = performance.now() - WINDOW_MS;
    this.samples = this.samples.filter((s) => s.at >= since);
    if (this.samples.length === 0) return undefined;
    const sorted = this.samples.map((s) => s.ms).sort((a, b) => a - b);
    const rank = (p: number) =>
      sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
    const round = (ms: number) => Math.round(ms * 10) / 10;
    return {
      name,
      p50Ms: round(rank(0.5)),
      p99Ms: round(rank(0.99)),
      rps: Math.round(sorted.length / (WINDOW_MS / 1000)),
      at: Date.now(),
    };
  }
}

/**
 * Publishes `window`'s stats for `queue` every second until the returned function is called. Quiet and harmless
 * when Redis cannot be reached for it: the demo goes on without the dashboard's line.
 */
export async function publishLatency(
  queue: string,
  name: string,
  window: LatencyWindow,
): Promise<() => void> {
  let redis: Redis;
  try {
    redis = await connectRedis({ name: 'lab06-app-stats', failFast: true });
  } catch {
    return () => {};
  }
  const stop = publishAppStatsEvery(redis, queue, () => window.stats(name));
  return () => {
    stop();
    redis.disconnect();
  };
}
