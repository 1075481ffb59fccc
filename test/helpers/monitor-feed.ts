/**
 * A load generator for the dashboard: a worker's heartbeat and task events at a set rate over N lanes, written
 * with the monitor's own Heartbeat and EventPublisher, with no task run behind them. Two cores cannot run 5,000
 * real tasks a second beside a browser; this makes the dashboard and its page carry that rate whatever the
 * machine, so the frame-time check measures the page, not the workers.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { queueKeys } from '../../mini-queue/keys.ts';
import {
  EventPublisher,
  Heartbeat,
  type TaskEvent,
  type WorkerBeat,
} from '../../mini-queue/monitor/index.ts';

export interface Feed {
  readonly id: string;
  /** Tasks whose events were published so far. */
  readonly sent: number;
  stop(): Promise<void>;
}

export async function startFeed(
  redis: Redis,
  options: { queue: string; lanes: number; perSecond: number; failEvery?: number },
): Promise<Feed> {
  const { queue, lanes, perSecond } = options;
  const id = `${hostname()}:${process.pid}:feed-${Date.now().toString(36)}`;
  const startedAt = Date.now();
  let sent = 0;
  let failed = 0;
  const publisher = new EventPublisher(redis, queue, id);
  const laneNames = Array.from({ length: lanes }, (_, i) => `thread-${i + 1}`);
  const beat = (): WorkerBeat => ({
    id,
    host: hostname(),
    pid: process.pid,
    queue,
    pool: 'threads',
    concurrency: lanes,
    lanes: laneNames.map((name) => ({ name })),
    done: sent,
    failed,
    retried: 0,
    inFlight: 0,
    startedAt,
    beatAt: Date.now(),
    intervalMs: 1000,
  });
  const heartbeat = new Heartbeat(redis, queue, id, beat, 1000, () => void publisher.refresh());
  await publisher.refresh();
  await heartbeat.start();
  const stats = queueKeys(queue).stats;
  const tickMs = 10;
  let last = Date.now();
  let owed = 0;
  // Each tick, the tasks due since the last one: a started and a succeeded (or failed) event each, spread over
  // the lanes and over the tick's time, so the page gets what a pool that fast would send.
  const timer = setInterval(() => {
    const now = Date.now();
    owed += ((now - last) * perSecond) / 1000;
    last = now;
    const count = Math.floor(owed);
    owed -= count;
    if (count === 0) return;
    let failedNow = 0;
    for (let i = 0; i < count; i++) {
      const n = sent + i;
      const lane = laneNames[n % lanes]!;
      const at = now - tickMs + (i * tickMs) / count;
      const fail = options.failEvery !== undefined && n % options.failEvery === options.failEvery - 1;
      const task = { id: `feed-${n}`, task: 'noop', attempt: 0, lane };
      publisher.push({ ...task, type: 'started', at });
      const end: TaskEvent = {
        ...task,
        type: fail ? 'failed' : 'succeeded',
        at: at + 1,
        runtimeMs: 1,
        ...(fail ? { error: `Error: feed failure ${n}` } : {}),
      };
      publisher.push(end);
      if (fail) failedNow++;
    }
    sent += count;
    failed += failedNow;
    void redis
      .multi()
      .hincrby(stats, 'succeeded', count - failedNow)
      .hincrby(stats, 'failed', failedNow)
      .exec();
  }, tickMs);
  return {
    id,
    get sent() {
      return sent;
    },
    async stop() {
      clearInterval(timer);
      publisher.close();
      await heartbeat.stop();
    },
  };
}
