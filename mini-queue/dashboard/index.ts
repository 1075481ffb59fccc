/**
 * `npx tsx mini-queue dashboard`: the live page for the projector. This file wires the parts and owns their
 * order of stopping; each part has one job:
 *
 *   source.ts    what the workers report (heartbeats, task events, lab 06's figures), read from Redis
 *   model.ts     aggregation on the server: counts and rates per queue, workers, last failures
 *   timeline.ts  the lane timeline, coalesced per tick
 *   server.ts    node:http: the page's three files, the SSE stream, the enqueue POST
 *   registry.ts  `mq:dashboard` = this dashboard's URL, for demos to print
 *   page/        index.html, app.js, style.css: plain DOM, SVG and canvas, no build step, nothing fetched elsewhere
 */
import { errorMessage } from '../errors.ts';
import { connectRedis } from '../redis/client.ts';
import { resolveRedisUrl } from '../redis/resolve.ts';
import { DashboardModel } from './model.ts';
import { register } from './registry.ts';
import { serve } from './server.ts';
import { redisSource } from './source.ts';

export interface DashboardOptions {
  /** The address to listen on. Anything but loopback lets others on the network see it. @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 8787 */
  port?: number;
  /** Show only these queues. @default every queue that has workers or messages, looked up every 2 s */
  queues?: string[];
  /** Redis URL. @default REDIS_URL, the default address, or a private embedded Redis */
  url?: string;
  /**
   * How often Redis is read, ms: a count read just after one poll reaches the page within this plus one tick
   * (server.ts's TICK_MS, 100): 200 ms at the default, within the 250 ms the page promises. @default 100
   */
  pollMs?: number;
}

export interface Dashboard {
  readonly url: string;
  /** Stops it: pages disconnected, the port closed, the Redis connections ended, `mq:dashboard` deleted. */
  close(): Promise<void>;
}

export async function startDashboard(options: DashboardOptions = {}): Promise<Dashboard> {
  const url = options.url ?? (await resolveRedisUrl());
  const redis = await connectRedis({ url, name: 'mq:dashboard' });
  const model = new DashboardModel(redis, redisSource(redis, url), options.queues);
  let served: Awaited<ReturnType<typeof serve>> | undefined;
  try {
    await model.poll();
    served = await serve({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 8787,
      model,
      defaultQueue: options.queues?.[0] ?? 'default',
    });
  } catch (error) {
    await model.close();
    redis.disconnect();
    throw error;
  }
  const registration = await register(redis, served.url);

  // Polls one after the other, never overlapping: a slow Redis slows the figures, it does not pile up reads.
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> = Promise.resolve();
  const loop = () => {
    polling = model
      .poll()
      .then(
        () => model.clearProblem(),
        (error: unknown) => model.setProblem(`reading Redis: ${errorMessage(error)}`),
      )
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, options.pollMs ?? 100);
      });
  };
  timer = setTimeout(loop, options.pollMs ?? 100);

  const page = served;
  return {
    url: page.url,
    async close() {
      stopped = true;
      clearTimeout(timer);
      await polling;
      await page.close();
      await model.close();
      await registration.close().catch(() => {});
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
