import { POOL_KINDS } from '../pool.ts';
import {
  type AppStats,
  type EventBatch,
  type LaneState,
  TASK_EVENT_TYPES,
  type TaskEvent,
  type WorkerBeat,
} from './types.ts';

/**
 * JSON in and out. Encoding is JSON.stringify; decoding checks the shape, since anyone with `redis-cli` can write
 * these keys and channels (and an older worker may have): a record that does not fit is skipped, not trusted.
 */

export function encodeBeat(beat: WorkerBeat): string {
  return JSON.stringify(beat);
}

export function encodeBatch(batch: EventBatch): string {
  return JSON.stringify(batch);
}

export function encodeAppStats(stats: AppStats): string {
  return JSON.stringify(stats);
}

type Loose = Record<string, unknown>;

const isObject = (v: unknown): v is Loose => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const optional = (v: unknown, check: (v: unknown) => boolean) => v === undefined || check(v);

function parse(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}

function isLane(v: unknown): v is LaneState {
  if (!isObject(v) || !isString(v.name)) return false;
  const task = v.task;
  return (
    task === undefined || (isObject(task) && isString(task.id) && isString(task.name) && isNumber(task.since))
  );
}

/** A heartbeat record, or undefined when `json` is not one. */
export function decodeBeat(json: string | null | undefined): WorkerBeat | undefined {
  if (json == null) return undefined;
  const v = parse(json);
  if (!isObject(v)) return undefined;
  const ok =
    isString(v.id) &&
    isString(v.host) &&
    isNumber(v.pid) &&
    isString(v.queue) &&
    (POOL_KINDS as readonly unknown[]).includes(v.pool) &&
    isNumber(v.concurrency) &&
    optional(v.processes, isNumber) &&
    Array.isArray(v.lanes) &&
    v.lanes.every(isLane) &&
    [v.done, v.failed, v.retried, v.inFlight, v.startedAt, v.beatAt, v.intervalMs].every(isNumber);
  return ok ? (v as unknown as WorkerBeat) : undefined;
}

function isEvent(v: unknown): v is TaskEvent {
  return (
    isObject(v) &&
    (TASK_EVENT_TYPES as readonly unknown[]).includes(v.type) &&
    isString(v.id) &&
    isString(v.task) &&
    isNumber(v.attempt) &&
    isNumber(v.at) &&
    optional(v.lane, isString) &&
    optional(v.runtimeMs, isNumber) &&
    optional(v.error, isString)
  );
}

/**
 * An event batch, or undefined when `json` is not one. Records and events that do not fit are left out of it.
 * A WireBatch (`"v":2`, what workers send) has its records expanded into TaskEvents, received → started →
 * terminal per task; the plain form (`events`, what workers sent before) is read as it is.
 */
export function decodeBatch(json: string): EventBatch | undefined {
  const v = parse(json);
  if (!isObject(v) || !isString(v.worker) || !isNumber(v.at)) return undefined;
  if (v.v === 2 && Array.isArray(v.e)) {
    const skipped = isNumber(v.s) && v.s > 0 ? Math.floor(v.s) : 0;
    return { worker: v.worker, at: v.at, events: expand(v.at, v.e), skipped };
  }
  if (!Array.isArray(v.events)) return undefined;
  return { worker: v.worker, at: v.at, events: v.events.filter(isEvent), skipped: 0 };
}

const optionalNumber = (v: unknown) => v === undefined || v === null || isNumber(v);

/** A WireBatch's records (see WireRecord in ./types.ts) as the TaskEvents they stand for. */
function expand(at: number, records: unknown[]): TaskEvent[] {
  const events: TaskEvent[] = [];
  for (const r of records) {
    if (!Array.isArray(r)) continue;
    const [code, id, task, attempt, offset, lane, receivedAt, startedAt, runtimeMs, error] = r as unknown[];
    const type = Number.isInteger(code) ? TASK_EVENT_TYPES[code as number] : undefined;
    const ok =
      type !== undefined &&
      isString(id) &&
      isString(task) &&
      isNumber(attempt) &&
      isNumber(offset) &&
      (lane === undefined || lane === null || isString(lane)) &&
      optionalNumber(receivedAt) &&
      optionalNumber(startedAt) &&
      optionalNumber(runtimeMs) &&
      (error === undefined || error === null || isString(error));
    if (!ok) continue;
    if (isNumber(receivedAt)) events.push({ type: 'received', id, task, attempt, at: at + receivedAt });
    if (isNumber(startedAt)) {
      events.push({
        type: 'started',
        id,
        task,
        attempt,
        ...(isString(lane) ? { lane } : {}),
        at: at + startedAt,
      });
    }
    events.push({
      type,
      id,
      task,
      attempt,
      ...(isString(lane) ? { lane } : {}),
      at: at + offset,
      ...(isNumber(runtimeMs) ? { runtimeMs } : {}),
      ...(isString(error) ? { error } : {}),
    });
  }
  return events;
}

/** A web app's stats, or undefined when `json` is not them. */
export function decodeAppStats(json: string | null | undefined): AppStats | undefined {
  if (json == null) return undefined;
  const v = parse(json);
  if (!isObject(v)) return undefined;
  const ok = isString(v.name) && [v.p50Ms, v.p99Ms, v.rps, v.at].every(isNumber);
  return ok ? (v as unknown as AppStats) : undefined;
}
