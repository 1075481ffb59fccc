/**
 * Demos point at the dashboard when one runs (`npx tsx mini-queue dashboard`, which says where it is in Redis):
 * `Dashboard: <url>?queue=<name>` for each queue a demo uses, so the page on the projector can follow along.
 * Quiet when none runs. Only a process that looked (runLab, at the start of a demo) prints: a check's queues,
 * made by the same throwaway(), stay silent.
 */
import { dashboardLink, dashboardUrl } from '../mini-queue/monitor/read.ts';
import { connectRedis } from '../mini-queue/redis/client.ts';

let url: string | undefined;
const announced = new Set<string>();

/** Asks Redis whether a dashboard runs; remembers its URL for announceQueue. Never throws, never waits long. */
export async function findDashboard(): Promise<string | undefined> {
  try {
    const redis = await connectRedis({ name: 'dashboard-lookup', connectTimeoutMs: 1000, failFast: true });
    try {
      url = await dashboardUrl(redis);
    } finally {
      redis.disconnect();
    }
  } catch {
    // No Redis: the demo itself will say so, in its own words.
  }
  return url;
}

/** Prints the dashboard's link for `queue`, once per queue, when findDashboard() found one. */
export function announceQueue(queue: string): void {
  if (url === undefined || announced.has(queue)) return;
  announced.add(queue);
  console.log(`Dashboard: ${dashboardLink(url, queue)}`);
}
