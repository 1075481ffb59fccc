import { queueKey, validateQueueName } from '../keys.ts';
import type { PoolKind } from '../pool.ts';

/**
 * What a worker says about itself, and where. Read this first: the worker writes it (heartbeat.ts, publisher.ts),
 * `mini-queue inspect` and the dashboard read it (read.ts, subscribe.ts).
 *
 *   worker ──every intervalMs: SET mq:{q}:worker:<id> <WorkerBeat> PX 3×intervalMs──▶ Redis
 *          ──                ZADD mq:{q}:workers <beatAt> <id>
 *          ──once per event-loop turn: PUBLISH mq:{q}:events <WireBatch>──▶ subscribers (the dashboard)
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
 * A worker's events of one event-loop turn, as subscribeEvents (decodeBatch) hands them over: in the order the
 * worker saw them per task; across tasks, go by `at` (a task's `succeeded` is sent once its ack is, and by then
 * the next task may have `started` on the same lane, at a later `at`). On the wire it is a WireBatch.
 */
export interface EventBatch {
  worker: string;
  at: number;
  events: TaskEvent[];
  /**
   * Tasks of this batch's time whose events were left out: past 256 new tasks a batch (5,120/s), a worker follows
   * no more tasks until the next batch, and counts them here (batch-builder.ts, TASKS_PER_BATCH). Their failures,
   * retries and losses still come. 0 when every task is in.
   */
  skipped: number;
}

/**
 * What one PUBLISH on `mq:{queue}:events` carries: JSON, compact, as a heard no-op task's three events of ~110
 * bytes each cost it a third more CPU (issue 19 allows 5%):
 *
 *   {"v":2,"worker":"vm:4242:a1b2c3","at":1764412345678,"e":[
 *     [1,"3f2a…","noop",0,-2,"slot-3",-2],                 ← received and started, in one record
 *     [2,"9c1d…","noop",0,-1,"slot-7",null,null,0.012]],   ← succeeded (its start went in an earlier batch)
 *    "s":744}                                               ← tasks left out (EventBatch.skipped), when any
 *
 * `at`: epoch ms when the batch was sent; every time in a record is an offset from it, in whole ms. A task's
 * events of one batch collapse into one record (WireRecord) at the place of its first: received → started →
 * terminal. decodeBatch (codec.ts) expands the records back into TaskEvents; readers that get the raw message
 * (`redis-cli SUBSCRIBE`) read it with this comment. Batches of older workers (`{worker, at, events: TaskEvent[]}`)
 * decode too.
 */
export interface WireBatch {
  v: 2;
  worker: string;
  at: number;
  e: WireRecord[];
  /** EventBatch.skipped, left out when 0. */
  s?: number;
}

/**
 * One task's events of a batch: `[type, id, task, attempt, at, lane, receivedAt, startedAt, runtimeMs, error]`.
 * `type` is the last event's index in TASK_EVENT_TYPES (0 received, 1 started, 2 succeeded, 3 failed, 4 retried,
 * 5 lost); `at`, `receivedAt`, `startedAt` are offsets from the batch's `at` (ms, may be negative). `receivedAt` is
 * there when the batch also holds the task's `received`, `startedAt` its `started` (whose lane is `lane`). Absent
 * fields are `null`, and left out at the end. `lane`, `runtimeMs` and `error` belong to the last event as in
 * TaskEvent.
 */
export type WireRecord = [
  type: number,
  id: string,
  task: string,
  attempt: number,
  at: number,
  lane?: string | null,
  receivedAt?: number | null,
  startedAt?: number | null,
  runtimeMs?: number | null,
  error?: string | null,
];

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
