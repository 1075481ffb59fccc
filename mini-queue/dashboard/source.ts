/**
 * What the dashboard reads, in the monitor's format (mini-queue/monitor/): workers' heartbeats, their task
 * events, lab 06's web-app figures. One small interface, so the aggregation (model.ts) reads the same whatever
 * fills it.
 */
import type { Redis } from 'ioredis';
import { queueKey } from '../keys.ts';
import { connectRedis } from '../redis/client.ts';

export interface WorkerBeat {
  id: string;
  host: string;
  pid: number;
  queue: string;
  pool: string;
  concurrency: number;
  processes?: number;
  lanes: Array<{ name: string; task?: { id: string; name: string; since: number } }>;
  done: number;
  failed: number;
  retried: number;
  inFlight: number;
  startedAt: number;
  beatAt: number;
  intervalMs: number;
}

export interface TaskEvent {
  type: 'received' | 'started' | 'succeeded' | 'failed' | 'retried' | 'lost';
  id: string;
  task: string;
  attempt: number;
  lane?: string;
  at: number;
  runtimeMs?: number;
  error?: string;
}

export interface EventBatch {
  worker: string;
  at: number;
  events: TaskEvent[];
}

export interface AppStats {
  name: string;
  p50Ms: number;
  p99Ms: number;
  rps: number;
  at: number;
}

export interface MonitorSource {
  /** Queues that have workers or messages now. */
  listQueues(): Promise<string[]>;
  /** The live workers of a queue (heartbeat not yet expired). */
  workers(queue: string): Promise<WorkerBeat[]>;
  /** Lab 06's web app on this queue, when one reports. */
  app(queue: string): Promise<AppStats | undefined>;
  /** Every event batch the queue's workers publish from now on; resolves to the function that stops it. */
  subscribe(queue: string, onBatch: (batch: EventBatch) => void): Promise<() => Promise<void>>;
}

/** A MonitorSource on `redis` (reads) and, for each subscription, a connection of its own to `url`. */
export function redisSource(redis: Redis, url: string): MonitorSource {
  return {
    async listQueues() {
      const names = new Set<string>();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', 'mq:{*}:*', 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          const match = /^mq:\{([^}]+)\}:(workers|waiting|stats)$/.exec(key);
          if (match) names.add(match[1]!);
        }
      } while (cursor !== '0');
      return [...names].sort();
    },
    async workers(queue) {
      const ids = await redis.zrange(queueKey(queue, 'workers'), 0, -1);
      if (ids.length === 0) return [];
      const raws = await redis.mget(ids.map((id) => queueKey(queue, 'worker', id)));
      return raws.flatMap((raw) => (raw === null ? [] : [JSON.parse(raw) as WorkerBeat]));
    },
    async app(queue) {
      const raw = await redis.get(queueKey(queue, 'app'));
      return raw === null ? undefined : (JSON.parse(raw) as AppStats);
    },
    async subscribe(queue, onBatch) {
      const subscriber = await connectRedis({ url, name: `mq:${queue}:dashboard-events` });
      const channel = queueKey(queue, 'events');
      subscriber.on('message', (from: string, message: string) => {
        if (from !== channel) return;
        try {
          onBatch(JSON.parse(message) as EventBatch);
        } catch {
          // A message that is not a batch is someone else's: ignored.
        }
      });
      await subscriber.subscribe(channel);
      return async () => {
        await subscriber.quit().catch(() => subscriber.disconnect());
      };
    },
  };
}
