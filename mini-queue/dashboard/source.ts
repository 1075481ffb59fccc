/**
 * What the dashboard reads: the monitor's records (mini-queue/monitor/: heartbeats, task events, lab 06's
 * web-app figures), behind one small interface so the aggregation (model.ts) can be read without Redis in mind.
 */
import type { Redis } from 'ioredis';
import {
  type AppStats,
  type EventBatch,
  listQueues,
  readAppStats,
  readWorkers,
  subscribeEvents,
  type WorkerBeat,
} from '../monitor/index.ts';

export type { AppStats, EventBatch, TaskEvent, WorkerBeat } from '../monitor/index.ts';

export interface MonitorSource {
  /** Queues that have workers or messages waiting now. */
  listQueues(): Promise<string[]>;
  /** The live workers of a queue (heartbeat not yet expired). */
  workers(queue: string): Promise<WorkerBeat[]>;
  /** Lab 06's web app on this queue, when one reports. */
  app(queue: string): Promise<AppStats | undefined>;
  /**
   * Every event batch published from now on, on `queue` or, with '*', on every queue (one PSUBSCRIBE, so a
   * queue that appears later is heard from its first event). Resolves to the function that stops it.
   */
  subscribe(queue: string, onBatch: (batch: EventBatch, queue: string) => void): Promise<() => Promise<void>>;
}

/** Reads on `redis`; each subscription on a connection of its own to `url` (a subscribed one can do nothing else). */
export function redisSource(redis: Redis, url: string): MonitorSource {
  return {
    listQueues: () => listQueues(redis),
    workers: (queue) => readWorkers(redis, queue),
    app: (queue) => readAppStats(redis, queue),
    subscribe: (queue, onBatch) => subscribeEvents(url, queue, onBatch),
  };
}
