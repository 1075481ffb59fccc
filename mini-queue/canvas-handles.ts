import type { ResultRecord, TaskState } from './broker.ts';
import { RedisUnavailableError } from './redis/bounded.ts';
import { TaskFailedError } from './task-errors.ts';

/** How a handle reads Redis: each read bounded by `ms` (the Queue's canvas connection, see Queue). */
export interface CanvasReader {
  /** The result records of `ids`, in order; undefined for a task still PENDING (not started, or unknown). */
  records(ids: string[], ms: number): Promise<Array<ResultRecord | undefined>>;
  /** How far a chord got: members counted so far, of n, and how it ended; undefined when no chord has that id. */
  chord(id: string, ms: number): Promise<{ n: number; joined: number; state?: string } | undefined>;
}

export interface GetOptions {
  /** How long to wait for the whole group, chain or chord, ms. @default 30000 */
  timeoutMs?: number;
}

/** One member of a group that failed. */
export interface MemberFailure {
  index: number;
  id: string;
  task: string;
  error: { name: string; message: string };
}

/** Members of a group failed: each one named, with its error. */
export class GroupFailedError extends Error {
  override name = 'GroupFailedError';
  constructor(
    readonly failures: MemberFailure[],
    /** Every member's result, undefined where it failed. */
    readonly results: unknown[],
  ) {
    const named = failures
      .slice(0, 5)
      .map((f) => `#${f.index} ${f.task} (${f.id}): ${f.error.name}: ${f.error.message}`);
    const more = failures.length > 5 ? `; and ${failures.length - 5} more` : '';
    super(`${failures.length} of ${results.length} group members failed: ${named.join('; ')}${more}`);
  }
}

/** A link of a chain failed: the chain stopped there, and the links after it never ran. */
export class ChainFailedError extends TaskFailedError {
  override name = 'ChainFailedError';
  constructor(
    /** Which link, from 0. */
    readonly link: number,
    readonly links: number,
    id: string,
    task: string,
    remote: { name: string; message: string },
  ) {
    super(id, task, remote);
    this.message = `chain link #${link} of ${links} (${task} ${id}) failed: ${remote.name}: ${remote.message}; the links after it never ran`;
  }
}

/** A chord member failed for good: the chord failed, and its callback never ran. */
export class ChordFailedError extends TaskFailedError {
  override name = 'ChordFailedError';
  constructor(id: string, task: string, remote: { name: string; message: string }) {
    super(id, task, remote);
    this.message = `chord ${id} (callback ${task}) failed: ${remote.message}`;
  }
}

/** A group, chain or chord had not finished when `timeoutMs` ran out; it may still finish later. */
export class CanvasTimeoutError extends Error {
  override name = 'CanvasTimeoutError';
}

/** A read given less time than this that gets no answer says nothing about Redis, only about the deadline. */
const MIN_TELLING_READ_MS = 100;

/**
 * Polls `read` with a growing interval (5 ms up to 100 ms) until it returns a value or the deadline passes, like
 * TaskHandle.result(). A Redis that is unreachable for a while is waited out; one unreachable until the deadline
 * ends the wait with RedisUnavailableError.
 */
async function poll<T>(
  timeoutMs: number,
  read: (ms: number) => Promise<T | undefined>,
  late: () => Promise<string>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let interval = 5;
  for (;;) {
    let unavailable: RedisUnavailableError | undefined;
    const budget = Math.max(1, deadline - Date.now());
    try {
      const value = await read(budget);
      if (value !== undefined) return value;
    } catch (error) {
      if (!(error instanceof RedisUnavailableError)) throw error;
      // A last read with a few ms left proves nothing about Redis: the wait simply ran out.
      if (budget >= MIN_TELLING_READ_MS) unavailable = error;
    }
    if (Date.now() >= deadline) {
      if (unavailable) throw unavailable;
      throw new CanvasTimeoutError(await late().catch(() => `nothing finished within ${timeoutMs} ms`));
    }
    await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(1, deadline - Date.now()))));
    interval = Math.min(interval * 2, 100);
  }
}

function stateOf(record: ResultRecord | undefined): TaskState {
  return record?.state ?? 'PENDING';
}

/** N tasks run together. */
export class GroupHandle {
  constructor(
    /** The members' task ids, in order. */
    readonly ids: string[],
    private readonly tasks: string[],
    private readonly reader: CanvasReader,
  ) {}

  /**
   * Waits for every member to settle, then returns their results in member order, or throws GroupFailedError
   * naming each member that failed. CanvasTimeoutError when `timeoutMs` passes first, naming the members still out.
   */
  async get(options: GetOptions = {}): Promise<unknown[]> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    let last: Array<ResultRecord | undefined> = [];
    const records = await poll(
      timeoutMs,
      async (ms) => {
        last = await this.reader.records(this.ids, ms);
        return last.every((r) => r?.state === 'SUCCESS' || r?.state === 'FAILURE') ? last : undefined;
      },
      async () => {
        const out = this.ids.flatMap((id, i) => {
          const state = stateOf(last[i]);
          return state === 'SUCCESS' || state === 'FAILURE'
            ? []
            : [`#${i} ${this.tasks[i]} (${id}) ${state}`];
        });
        return `group: ${out.length} of ${this.ids.length} members not finished within ${timeoutMs} ms: ${out.slice(0, 5).join(', ')}${out.length > 5 ? ', ...' : ''}. Is a worker running on this queue?`;
      },
    );
    const failures: MemberFailure[] = [];
    const results = records.map((record, index) => {
      if (record!.state === 'SUCCESS') return record!.result;
      failures.push({
        index,
        id: record!.id,
        task: record!.task,
        error: record!.error ?? { name: 'Error', message: 'unknown' },
      });
      return undefined;
    });
    if (failures.length > 0) throw new GroupFailedError(failures, results);
    return results;
  }
}

/** a → b → c: each link's result is the next link's first argument. */
export class ChainHandle {
  constructor(
    /** The links' task ids, in order; the last one's result is the chain's. */
    readonly ids: string[],
    private readonly tasks: string[],
    private readonly reader: CanvasReader,
  ) {}

  /** The last link's result; ChainFailedError naming the link that failed; CanvasTimeoutError naming where it is. */
  async get(options: GetOptions = {}): Promise<unknown> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const n = this.ids.length;
    let at = 0;
    let state: TaskState = 'PENDING';
    const done = await poll(
      timeoutMs,
      async (ms) => {
        const records = await this.reader.records(this.ids.slice(at), ms);
        for (const record of records) {
          state = stateOf(record);
          if (state === 'FAILURE')
            throw new ChainFailedError(at, n, this.ids[at]!, this.tasks[at]!, record!.error ?? unknownError);
          if (state !== 'SUCCESS') return undefined;
          // Done links are not read again.
          if (++at === n) return { result: record!.result };
        }
        return undefined;
      },
      async () =>
        `chain: link #${at} of ${n} (${this.tasks[at]} ${this.ids[at]}) still ${state} after ${timeoutMs} ms. Is a worker running on this queue?`,
    );
    return done.result;
  }
}

const unknownError = { name: 'Error', message: 'unknown' };

/** A group whose results go, once every member succeeded, to one callback. */
export class ChordHandle {
  constructor(
    /** The chord's id: its callback's task id. */
    readonly id: string,
    private readonly callback: string,
    /** The members, as a group: their own results, read from their result keys. */
    readonly members: GroupHandle,
    private readonly reader: CanvasReader,
  ) {}

  /**
   * The callback's result. ChordFailedError when a member failed for good (the callback never ran: its result
   * says which member); TaskFailedError when the callback itself failed; CanvasTimeoutError saying how many
   * members had joined.
   */
  async get(options: GetOptions = {}): Promise<unknown> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const done = await poll(
      timeoutMs,
      async (ms) => {
        const [record] = await this.reader.records([this.id], ms);
        if (record?.state === 'SUCCESS') return { result: record.result };
        if (record?.state === 'FAILURE') {
          const error = record.error ?? unknownError;
          if (error.name === 'ChordFailed') throw new ChordFailedError(this.id, this.callback, error);
          throw new TaskFailedError(this.id, this.callback, error);
        }
        return undefined;
      },
      async () => {
        const chord = await this.reader.chord(this.id, 1000);
        const where =
          chord === undefined
            ? 'no such chord in Redis (expired, or never made)'
            : chord.state === 'fired'
              ? `all ${chord.n} members joined and the callback ${this.callback} was enqueued, not finished yet`
              : `${chord.joined} of ${chord.n} members joined`;
        return `chord ${this.id}: no result within ${timeoutMs} ms: ${where}. Is a worker running on this queue?`;
      },
    );
    return done.result;
  }
}
