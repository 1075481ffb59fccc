import type { Broker, BrokerOptions, QueueStats, ResultRecord, TaskState } from './broker.ts';
import { createEnvelope, type EnqueueOptions, encodeEnvelope, MAX_TIMEOUT_MS } from './envelope.ts';
import { UserError } from './errors.ts';
import { openBroker, type Track } from './parts.ts';
import { bounded, RedisUnavailableError } from './redis/bounded.ts';
import { RedisWatch } from './redis/watch.ts';

export { RedisUnavailableError };

export interface QueueOptions extends BrokerOptions {
  /** Which broker to use: the reference (`solutions`) or lab 00's (`labs`). @default 'solutions' */
  track?: Track;
  /**
   * The longest one producer call waits for Redis, ms: `enqueue`, `enqueueMany`, `stats`, and each read of a
   * handle (`info`, `state`; `result()` has its own `timeout`). Past it the call fails with
   * RedisUnavailableError. While Redis is unreachable nothing waits in the client: a call that gave up for that
   * reason sent nothing. @default 3000
   */
  callTimeoutMs?: number;
}

/** Runs one producer call on the broker within a deadline (see Queue.call). */
type Call = <T>(
  what: string,
  run: (broker: Broker) => Promise<T>,
  ms?: number,
  /** It changes something: an answer that never came may still mean it was done. */
  write?: boolean,
) => Promise<T>;

/** A task's FAILURE, raised by `handle.result()` in the producer. */
export class TaskFailedError extends Error {
  override name = 'TaskFailedError';
  constructor(
    readonly id: string,
    readonly task: string,
    readonly remote: { name: string; message: string },
  ) {
    super(`task ${task} (${id}) failed: ${remote.name}: ${remote.message}`);
  }
}

/** `handle.result({ timeout })` ran out of time; the task may still finish later. */
export class ResultTimeoutError extends Error {
  override name = 'ResultTimeoutError';
  constructor(
    readonly id: string,
    readonly state: TaskState,
    timeoutMs: number,
  ) {
    super(
      `no result for task ${id} within ${timeoutMs} ms (state: ${state}). Is a worker running on this queue?`,
    );
  }
}

/** A reference to one task by id: its state and, once settled, its result. */
export class TaskHandle {
  constructor(
    readonly id: string,
    private readonly call: Call,
  ) {}

  /** The stored record, or undefined while PENDING (not started yet, or unknown, or expired). */
  async info(): Promise<ResultRecord | undefined> {
    return this.call(`reading task ${this.id}`, (broker) => broker.result(this.id));
  }

  async state(): Promise<TaskState> {
    return (await this.info())?.state ?? 'PENDING';
  }

  /**
   * Waits for SUCCESS and returns the value; throws TaskFailedError on FAILURE and ResultTimeoutError when
   * `timeout` passes first. Polls with a growing interval (5 ms up to 100 ms): cheap, and nothing to lose if
   * the producer and the worker start in any order. Each read is bounded by what is left of `timeout`, so it
   * returns on time even while a Redis call hangs; a Redis that is unreachable until then ends it with
   * RedisUnavailableError instead (the task may well have finished: nobody could read it).
   */
  async result(options: { timeout?: number } = {}): Promise<unknown> {
    const timeout = options.timeout ?? 30_000;
    const deadline = Date.now() + timeout;
    let interval = 5;
    for (;;) {
      let record: ResultRecord | undefined;
      let unavailable: RedisUnavailableError | undefined;
      try {
        record = await this.call(
          `reading task ${this.id}`,
          (broker) => broker.result(this.id),
          Math.max(1, deadline - Date.now()),
        );
      } catch (error) {
        // An outage shorter than `timeout` is waited out; only the deadline ends the wait.
        if (!(error instanceof RedisUnavailableError)) throw error;
        unavailable = error;
      }
      if (record?.state === 'SUCCESS') return record.result;
      if (record?.state === 'FAILURE') {
        throw new TaskFailedError(
          this.id,
          record.task,
          record.error ?? { name: 'Error', message: 'unknown' },
        );
      }
      if (Date.now() >= deadline) {
        if (unavailable) {
          throw new RedisUnavailableError(
            `no result for task ${this.id} within ${timeout} ms: ${unavailable.reason}`,
            unavailable.reason,
          );
        }
        throw new ResultTimeoutError(this.id, record?.state ?? 'PENDING', timeout);
      }
      await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(1, deadline - Date.now()))));
      interval = Math.min(interval * 2, 100);
    }
  }
}

/**
 * The producer API. Connects lazily on first use.
 *
 *   const queue = new Queue({ name: 'default' });
 *   const handle = await queue.enqueue('fib', [30], { maxRetries: 3 });
 *   console.log(await handle.result({ timeout: 10_000 }));
 *   await queue.close();
 */
export class Queue {
  readonly name: string;
  private brokerPromise: Promise<Broker> | undefined;
  private readonly callTimeoutMs: number;
  private readonly watch = new RedisWatch();

  constructor(private readonly options: QueueOptions & { name?: string } = {}) {
    this.name = options.name ?? options.queue ?? 'default';
    const callTimeout = options.callTimeoutMs ?? 3000;
    if (!Number.isInteger(callTimeout) || callTimeout < 1 || callTimeout > MAX_TIMEOUT_MS) {
      throw new UserError(`callTimeoutMs must be an integer from 1 to ${MAX_TIMEOUT_MS}, got ${callTimeout}`);
    }
    this.callTimeoutMs = callTimeout;
  }

  private broker = (): Promise<Broker> => {
    if (!this.brokerPromise) {
      const opening = openBroker({ ...this.options, queue: this.name }, this.options.track, {
        failFast: true,
        watch: this.watch,
      });
      this.brokerPromise = opening;
      // A connection that failed is not kept: the next call tries again, and Redis may be up by then.
      opening.catch(() => {
        if (this.brokerPromise === opening) this.brokerPromise = undefined;
      });
    }
    return this.brokerPromise;
  };

  /**
   * One producer call, within `ms` (callTimeoutMs): connecting included, retried while the connection is down,
   * never longer (redis/bounded.ts).
   */
  private call: Call = (what, run, ms = this.callTimeoutMs, write = false) =>
    bounded(what, ms, this.watch, async () => run(await this.broker()), { write });

  /** Enqueues one task run; returns its handle. */
  async enqueue(task: string, args: unknown[] = [], options: EnqueueOptions = {}): Promise<TaskHandle> {
    const [handle] = await this.enqueueMany(task, [args], options);
    return handle!;
  }

  /** Enqueues many runs of one task in one round trip (a single LPUSH). */
  async enqueueMany(
    task: string,
    argsList: unknown[][],
    options: EnqueueOptions = {},
  ): Promise<TaskHandle[]> {
    if (options.id !== undefined && argsList.length > 1) {
      throw new UserError('enqueueMany: an explicit `id` would be shared by every task; leave it out');
    }
    const envelopes = argsList.map((args) => createEnvelope(task, args, options));
    const raws = envelopes.map(encodeEnvelope);
    const due = envelopes[0]?.eta;
    // Decided once: an attempt made again after a refused one must go where the first went.
    const delayed = due !== undefined && due > Date.now();
    await this.call(
      `enqueue '${task}'`,
      async (broker) => {
        if (delayed) {
          // Delayed work waits in Redis (the delayed set), not in a worker's memory. ZADD again after a refused
          // attempt changes nothing: the same message, the same score.
          for (const raw of raws) await broker.schedule(raw, due);
        } else {
          await broker.push(raws);
        }
      },
      undefined,
      true,
    );
    return envelopes.map((envelope) => new TaskHandle(envelope.id, this.call));
  }

  /** A handle for a task enqueued elsewhere. */
  handle(id: string): TaskHandle {
    return new TaskHandle(id, this.call);
  }

  async stats(): Promise<QueueStats> {
    return this.call('stats', (broker) => broker.stats());
  }

  async close(): Promise<void> {
    if (!this.brokerPromise) return;
    const broker = await this.brokerPromise.catch(() => undefined);
    this.brokerPromise = undefined;
    await broker?.close();
  }
}
