import { TASK_EVENT_TYPES, type TaskEventType } from './types.ts';

/**
 * A batch's task events, held as bytes and numbers until the flush, then written as one wire batch (the format
 * is in ./types.ts, WireBatch) into a reused Buffer. Built for the worker's hot path: a heard no-op task cost 8 µs
 * more than an unheard one when each event was a JSON string of its own, most of it the garbage collector's (the
 * pieces, their join, ioredis's copy of the string): here an event allocates nothing, and the builder holds no
 * object of the task's (its id and name are copied as bytes at once), so none outlives its task for the batch's
 * 50 ms (no measurable gain on its own, but nothing is promoted to the old generation on the events' account).
 *
 * A task's events of one batch collapse into one record: `received` then `started` becomes a `started` record
 * carrying the received time; then `succeeded` (or failed, retried) becomes a terminal record carrying both. The
 * record stays where the task's first event of the batch was, so a run's end never comes after the next run's
 * start on the same lane. decodeBatch (codec.ts) expands the records back into TaskEvents, in order per task.
 */

/**
 * New tasks a batch follows, at most: 5,120 tasks/s a worker at one batch per 50 ms, the rate the dashboard is
 * built to draw (issue 19). Past it, a task whose events are all routine (received, started, succeeded) is left
 * out of the events whole, and only counted (WireBatch.s); a task already followed is followed to its end, and a
 * failure, retry or loss always goes out. Per task, the events then cost a counter: a heard no-op task cost 3–4 µs
 * more than an unheard one (0.93× the processed/s) when every task was followed, ~1 with the cap. The figures a
 * dashboard counts (succeeded, failed, rates) come from Redis, not from events, so they stay exact.
 */
export const TASKS_PER_BATCH = 256;

/** A task's `batch` once it was left out (see TASKS_PER_BATCH): its routine events are all left out. */
const LEFT_OUT = -1;

/** Whose event it is. The builder notes on it where its last event of the batch went, to collapse the next. */
export interface EventRef {
  readonly id: string;
  readonly task: string;
  readonly attempt: number;
  /** The batch (EventBatchBuilder's serial) and record its last event went to; 0 or absent before its first. */
  batch?: number;
  record?: number;
}

const CODE = Object.fromEntries(TASK_EVENT_TYPES.map((type, i) => [type, i])) as Record<
  TaskEventType,
  number
>;
const RECEIVED = CODE.received;
const STARTED = CODE.started;
const SUCCEEDED = CODE.succeeded;
const LOST = CODE.lost;

export class EventBatchBuilder {
  /** Changes at every clear(): a ref whose `batch` differs has no record in this one. */
  private serial = 1;
  private count = 0;
  /** Tasks left out of this batch (TASKS_PER_BATCH). */
  private skipped = 0;
  // One record per index, in parallel arrays that keep their length from batch to batch (no array per event).
  /** Where the record's `"id","task",attempt` is in `names`. */
  private readonly nameStarts: number[] = [];
  private readonly nameEnds: number[] = [];
  private readonly names = new ByteWriter();
  private readonly types: number[] = [];
  private readonly ats: number[] = [];
  private readonly lanes: Array<string | undefined> = [];
  private readonly receivedAts: number[] = [];
  private readonly startedAts: number[] = [];
  private readonly runtimes: number[] = [];
  private readonly errors: Array<string | undefined> = [];
  private readonly out = new ByteWriter();

  constructor(private readonly cap = TASKS_PER_BATCH) {}

  /** Records in this batch, and tasks left out of it: a batch to send when either is not 0. */
  get size(): number {
    return this.count + this.skipped;
  }

  add(
    type: TaskEventType,
    ref: EventRef,
    at: number,
    lane?: string,
    runtimeMs?: number,
    error?: string,
  ): void {
    const code = CODE[type];
    const ms = Math.round(at);
    if (ref.batch === this.serial && ref.record !== undefined) {
      const i = ref.record;
      const prev = this.types[i]!;
      if (code === STARTED && prev === RECEIVED) {
        this.receivedAts[i] = this.ats[i]!;
        this.types[i] = code;
        this.ats[i] = ms;
        this.lanes[i] = lane;
        return;
      }
      // A terminal event (succeeded, failed, retried) after this batch's received or started, on its lane.
      if (
        code > STARTED &&
        code < LOST &&
        (prev === RECEIVED || (prev === STARTED && this.lanes[i] === lane))
      ) {
        if (prev === RECEIVED) this.receivedAts[i] = this.ats[i]!;
        else this.startedAts[i] = this.ats[i]!;
        this.types[i] = code;
        this.ats[i] = ms;
        this.lanes[i] = lane;
        this.runtimes[i] = runtimeMs !== undefined && Number.isFinite(runtimeMs) ? runtimeMs : Number.NaN;
        this.errors[i] = error;
        return;
      }
    }
    // Sampling: a task never followed, past the cap, with a routine event. Its later routine events find LEFT_OUT.
    if (code <= SUCCEEDED && (ref.batch === LEFT_OUT || (!ref.batch && this.count >= this.cap))) {
      if (ref.batch !== LEFT_OUT) this.skipped++;
      ref.batch = LEFT_OUT;
      return;
    }
    const i = this.count++;
    ref.batch = this.serial;
    ref.record = i;
    const names = this.names;
    this.nameStarts[i] = names.length;
    names.string(ref.id);
    names.byte(0x2c);
    names.string(ref.task);
    names.byte(0x2c);
    names.int(ref.attempt);
    this.nameEnds[i] = names.length;
    this.types[i] = code;
    this.ats[i] = ms;
    this.lanes[i] = lane;
    this.receivedAts[i] = Number.NaN;
    this.startedAts[i] = Number.NaN;
    this.runtimes[i] = runtimeMs !== undefined && Number.isFinite(runtimeMs) ? runtimeMs : Number.NaN;
    this.errors[i] = error;
  }

  /**
   * The batch as a WireBatch, in a Buffer of its own (the builder's is reused), and the builder emptied. `head`
   * is `{"v":2,"worker":<json>,"at":` (see wireHead).
   */
  take(head: string, at: number): Buffer {
    const w = this.out;
    w.reset();
    w.ascii(head);
    w.int(at);
    w.ascii(',"e":[');
    for (let i = 0; i < this.count; i++) {
      if (i > 0) w.byte(0x2c);
      w.byte(0x5b);
      w.int(this.types[i]!);
      w.byte(0x2c);
      w.bytes(this.names, this.nameStarts[i]!, this.nameEnds[i]!);
      w.byte(0x2c);
      w.int(this.ats[i]! - at);
      // Optional fields, null when absent, the trailing absent ones left out.
      const lane = this.lanes[i];
      const received = this.receivedAts[i]!;
      const started = this.startedAts[i]!;
      const runtime = this.runtimes[i]!;
      const error = this.errors[i];
      const last =
        error !== undefined
          ? 9
          : !Number.isNaN(runtime)
            ? 8
            : !Number.isNaN(started)
              ? 7
              : !Number.isNaN(received)
                ? 6
                : lane !== undefined
                  ? 5
                  : 4;
      if (last >= 5) {
        w.byte(0x2c);
        if (lane === undefined) w.ascii('null');
        else w.string(lane);
      }
      if (last >= 6) {
        w.byte(0x2c);
        if (!Number.isNaN(received)) w.int(Math.round(received) - at);
        else w.ascii('null');
      }
      if (last >= 7) {
        w.byte(0x2c);
        if (!Number.isNaN(started)) w.int(Math.round(started) - at);
        else w.ascii('null');
      }
      if (last >= 8) {
        w.byte(0x2c);
        if (!Number.isNaN(runtime)) w.runtime(runtime);
        else w.ascii('null');
      }
      if (last >= 9) {
        w.byte(0x2c);
        w.string(error!);
      }
      w.byte(0x5d);
      this.errors[i] = undefined;
    }
    w.ascii(']');
    if (this.skipped > 0) {
      w.ascii(',"s":');
      w.int(this.skipped);
    }
    w.byte(0x7d);
    this.clear();
    return w.copy();
  }

  /** Drops this batch's records. */
  clear(): void {
    for (let i = 0; i < this.count; i++) this.errors[i] = undefined;
    this.count = 0;
    this.skipped = 0;
    this.names.reset();
    this.serial++;
  }
}

/** The start of a WireBatch, up to its `at`: once per worker. */
export function wireHead(worker: string): string {
  return `{"v":2,"worker":${JSON.stringify(worker)},"at":`;
}

/** '000' to '999': the fraction of a runtime in ms, to the µs, without formatting a float. */
const THOUSANDTHS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/** JSON written byte by byte into a growing Buffer: the ASCII that ids, names and numbers are, mostly. */
class ByteWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private pos = 0;

  reset(): void {
    this.pos = 0;
  }

  get length(): number {
    return this.pos;
  }

  /** Bytes `start` to `end` of another writer. */
  bytes(from: ByteWriter, start: number, end: number): void {
    this.room(end - start);
    const src = from.buf;
    const buf = this.buf;
    let pos = this.pos;
    for (let i = start; i < end; i++) buf[pos++] = src[i]!;
    this.pos = pos;
  }

  copy(): Buffer {
    // A copy: ioredis may write it out after the next batch has begun to reuse this one.
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  byte(b: number): void {
    if (this.pos >= this.buf.length) this.grow(1);
    this.buf[this.pos++] = b;
  }

  /** Text known to be ASCII with nothing to escape (our own pieces of JSON). */
  ascii(text: string): void {
    this.room(text.length);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < text.length; i++) buf[pos++] = text.charCodeAt(i);
    this.pos = pos;
  }

  /** A JSON string: bytes as they are while printable ASCII with no `"` or `\`, else JSON.stringify's. */
  string(text: string): void {
    this.room(text.length + 2);
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    buf[pos++] = 0x22;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
        const json = JSON.stringify(text);
        // At most 3 bytes of UTF-8 per UTF-16 unit, and escapes no longer than 6 characters.
        this.pos = start;
        this.room(json.length * 3);
        this.pos = start + this.buf.write(json, start, 'utf8');
        return;
      }
      buf[pos++] = c;
    }
    buf[pos++] = 0x22;
    this.pos = pos;
  }

  /** An integer (a time offset may be negative). */
  int(n: number): void {
    if (!(n > -(2 ** 31) && n < 2 ** 31) || n !== Math.floor(n)) {
      this.ascii(String(Math.round(n)));
      return;
    }
    this.room(11);
    if (n < 0) {
      this.buf[this.pos++] = 0x2d;
      n = -n;
    }
    if (n < 10) {
      this.buf[this.pos++] = 0x30 + n;
      return;
    }
    let digits = 1;
    for (let p = 10; p <= n; p *= 10) digits++;
    let pos = this.pos + digits;
    this.pos = pos;
    while (n >= 10) {
      const q = (n / 10) | 0;
      this.buf[--pos] = 0x30 + n - q * 10;
      n = q;
    }
    this.buf[--pos] = 0x30 + n;
  }

  /** Milliseconds to the µs. */
  runtime(ms: number): void {
    const us = Math.round(ms * 1000);
    // Past 2^31 µs (35 minutes) not a small integer any more: to the ms.
    if (!(us >= 0 && us < 2 ** 31)) {
      this.int(Math.max(0, Math.round(ms)));
      return;
    }
    this.int((us / 1000) | 0);
    this.byte(0x2e);
    this.ascii(THOUSANDTHS[us % 1000]!);
  }

  private room(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }
}
