import { TASK_EVENT_TYPES, type TaskEventType } from './types.ts';

/**
 * A TaskEvent as JSON text, written by hand: the worker's hot path sends three per task, and building an object
 * to JSON.stringify it cost about 1 µs an event, as much as a third of a no-op task's whole run in the worker.
 * What varies per message (id, task, attempt) is encoded once, by `eventHead`; each event is then a few string
 * pieces (writeEvent), most of them cached: the type's prefix, the time (events of one turn share their millisecond, and turning
 * an epoch-ms number, too big for a small integer, into text is the slow part), the lane's name. JSON.parse of the
 * result gives exactly the TaskEvent of ./types.ts (test/events.test.ts checks it against decodeBatch).
 */

const PREFIX = Object.fromEntries(TASK_EVENT_TYPES.map((type) => [type, `{"type":"${type}",`])) as Record<
  TaskEventType,
  string
>;

/** Letters, digits and `_ - . : @ #` need no escaping in JSON: the ids and names we make, and most people's. */
const PLAIN = /^[\w\-.:@#]*$/;

function quoted(text: string): string {
  return PLAIN.test(text) ? `"${text}"` : JSON.stringify(text);
}

/** `"id":…,"task":…,"attempt":…`, once per message. */
export function eventHead(id: string, task: string, attempt: number): string {
  return `"id":${quoted(id)},"task":${quoted(task)},"attempt":${attempt}`;
}

let lastAt = Number.NaN;
let lastAtJson = '';

function atJson(at: number): string {
  const ms = Math.round(at);
  if (ms !== lastAt) {
    lastAt = ms;
    lastAtJson = `,"at":${ms}`;
  }
  return lastAtJson;
}

/** Lane names come from a handful of strings (`thread-3`, `slot-7`): encoded once each. */
const lanes = new Map<string, string>();

function laneJson(lane: string): string {
  let json = lanes.get(lane);
  if (json === undefined) {
    json = `,"lane":${JSON.stringify(lane)}`;
    // Bounded: a pool whose lane names never repeat (a process per task: `pid-N`) would grow it for ever.
    if (lanes.size > 1000) lanes.clear();
    lanes.set(lane, json);
  }
  return json;
}

/** '000' to '999': the fraction of a runtime in ms, to the µs, without formatting a float. */
const THOUSANDTHS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

function runtimeJson(ms: number): string {
  const us = Math.round(ms * 1000);
  // Past 2^31 µs (35 minutes) not a small integer any more: the plain way.
  if (!(us >= 0 && us < 2 ** 31)) return `,"runtimeMs":${Math.max(0, Math.round(ms))}`;
  return `,"runtimeMs":${(us / 1000) | 0}.${THOUSANDTHS[us % 1000]}`;
}

/**
 * Appends one TaskEvent's JSON to `out` in pieces, for one `join('')` per batch: no string is built per event (a
 * template string would make five, each garbage a moment later), only pointers to pieces that mostly exist
 * already (the message's head, the cached time, prefix and lane).
 */
export function writeEvent(
  out: string[],
  type: TaskEventType,
  head: string,
  at: number,
  lane?: string,
  runtimeMs?: number,
  error?: string,
): void {
  out.push(PREFIX[type], head, atJson(at));
  if (lane !== undefined) out.push(laneJson(lane));
  if (runtimeMs !== undefined && Number.isFinite(runtimeMs)) out.push(runtimeJson(runtimeMs));
  if (error !== undefined) out.push(`,"error":${JSON.stringify(error)}`);
  out.push('}');
}

/** One TaskEvent as JSON (what writeEvent appends, joined). */
export function encodeEvent(
  type: TaskEventType,
  head: string,
  at: number,
  lane?: string,
  runtimeMs?: number,
  error?: string,
): string {
  const out: string[] = [];
  writeEvent(out, type, head, at, lane, runtimeMs, error);
  return out.join('');
}
