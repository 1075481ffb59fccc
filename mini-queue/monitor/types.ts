import { queueKey, validateQueueName } from '../keys.ts';
import type { PoolKind } from '../pool.ts';

/**
 * What a worker says about itself, and where. Read this first: the worker writes it (heartbeat.ts, events.ts),
 * `mini-queue inspect` and the dashboard read it (read.ts, subscribe.ts).
 *
 *   worker ──every intervalMs: SET mq:{q}:worker:<id> <WorkerBeat> PX 3×intervalMs──▶ Redis
 *          ──                ZADD mq:{q}:workers <beatAt> <id>
 *          ──once per event-loop turn: PUBLISH mq:{q}:events <EventBatch>──▶ subscribers (the dashboard)
 *
 * A worker killed with `kill -9` stops beating: its key expires within 3 intervals and readers drop it from the
 * index (ZREM) the next time they find the key gone.
 */

/** One lane of a pool (a thread, a child process, a coroutine slot) and what it runs now. */
export interface LaneState {
  /** As TaskRun.lane names it (`thread-3`, `pid-4242`, `coroutine-7`, `main`), or `slot-N` (see WorkerBeat.lanes). */
  name: string;
  /** The task it runs, since when (epoch ms); absent when the lane is idle. */
  task?: { id: string; name: string; since: number };
}

/** The heartbeat record: `mq:{queue}:worker:<id>`, a JSON string that expires 3 intervals after its last write. */
export interface WorkerBeat {
  /** Unique per worker start: `<host>:<pid>:<random>`. */
  id: string;
  host: string;
  pid: number;
  queue: string;
  pool: PoolKind;
  concurrency: number;
  /** `--processes N` of an event-loop or coroutines pool. */
  processes?: number;
  /**
   * Every lane and what it runs. Pools that can tell (threads, prefork, coroutines, solo) name their own lanes;
   * for the others (event-loop, processes, multi-process) the worker numbers `slot-1..slot-C` itself and puts each
   * running task in the lowest free slot: the events of those tasks carry the same slot names.
   */
  lanes: LaneState[];
  /** Settled for good here since start (SUCCESS or FAILURE); `failed` of them FAILURE. */
  done: number;
  failed: number;
  /** Failed attempts here that will run again (RETRY), not counted in `done`. */
  retried: number;
  /** Messages held now: running, or waiting in the pool. */
  inFlight: number;
  startedAt: number;
  beatAt: number;
  intervalMs: number;
}

export const TASK_EVENT_TYPES = ['received', 'started', 'succeeded', 'failed', 'retried', 'lost'] as const;
export type TaskEventType = (typeof TASK_EVENT_TYPES)[number];

/**
 * One thing that happened to a task in a worker, in order per task: received → started → succeeded | failed |
 * retried. `lost`: a run that died with its lane (a thread or child killed under it; the pool runs it again on
 * another lane, or fails it), or a message whose worker died, seen when it comes back (`recover` gave it back;
 * `error` says how many times that happened). A message a rate limit puts off goes back unrun after its
 * `received`, and is received again when due; one whose eta is still ahead is not received yet.
 */
export interface TaskEvent {
  type: TaskEventType;
  id: string;
  task: string;
  attempt: number;
  /** The lane, as the worker's heartbeat names it: on started, succeeded, failed, retried and a lane's lost. */
  lane?: string;
  /** Epoch ms. */
  at: number;
  /** On succeeded, failed and retried: how long the task ran. */
  runtimeMs?: number;
  /** On failed, retried and lost: `Name: message`. */
  error?: string;
}

/**
 * What one PUBLISH on `mq:{queue}:events` carries: a worker's events of one event-loop turn, in the order the
 * worker saw them. Per task that order holds; across tasks, go by `at`: a task's `succeeded` is sent once its ack
 * is, and by then the next task may have `started` on the same lane (at a later `at`).
 */
export interface EventBatch {
  worker: string;
  at: number;
  events: TaskEvent[];
}

/** A web app's latency, for lab 06: `mq:{queue}:app`, JSON, expires 5 s after its last write. */
export interface AppStats {
  name: string;
  p50Ms: number;
  p99Ms: number;
  /** Requests answered per second over the last window. */
  rps: number;
  at: number;
}

/** The heartbeat's key: `mq:{queue}:worker:<id>`. */
export function workerKey(queue: string, id: string): string {
  return queueKey(queue, 'worker', id);
}

/** The sorted set of a queue's workers: id → last beat (ms). */
export function workersKey(queue: string): string {
  return queueKey(queue, 'workers');
}

/** The pub/sub channel of a queue's task events. */
export function eventsChannel(queue: string): string {
  return queueKey(queue, 'events');
}

/** Every queue's channel, for PSUBSCRIBE. */
export const ALL_EVENTS_PATTERN = 'mq:{*}:events';

/** A queue's name from any of its keys or channels (`mq:{name}:…`), or undefined. */
export function queueOfKey(key: string): string | undefined {
  const match = /^mq:\{([^}]+)\}:/.exec(key);
  if (!match) return undefined;
  try {
    return validateQueueName(match[1]!);
  } catch {
    return undefined;
  }
}

export function appStatsKey(queue: string): string {
  return queueKey(queue, 'app');
}

/** Where a running dashboard says its URL (written by it, PX 6000, refreshed every 2 s). */
export const DASHBOARD_KEY = 'mq:dashboard';
