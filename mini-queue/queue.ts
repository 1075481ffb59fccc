import type { Redis } from 'ioredis';
import type { Broker, BrokerOptions, QueueStats, ResultRecord, TaskState } from './broker.ts';
import { buildChain, buildChord, buildGroup, type Signature } from './canvas.ts';
import { type CanvasReader, ChainHandle, ChordHandle, GroupHandle } from './canvas-handles.ts';
import { createEnvelope, type EnqueueOptions, encodeEnvelope, MAX_TIMEOUT_MS } from './envelope.ts';
import { UserError } from './errors.ts';
import { queueKeys } from './keys.ts';
import { DEFAULT_RESULT_TTL_SECONDS, openBroker, type Track } from './parts.ts';
import { bounded, RedisUnavailableError } from './redis/bounded.ts';
import { connectRedis } from './redis/client.ts';
import { RedisWatch } from './redis/watch.ts';
import { TaskFailedError } from './task-errors.ts';

export { RedisUnavailableError, TaskFailedError };

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

  /**
   * Runs the signatures together: `await (await queue.group([sig('fib', 20), sig('fib', 21)])).get()` is
   * `[6765, 10946]`. The handle's get() rejects naming every member that failed (canvas-handles.ts).
   */
  async group(signatures: Signature[]): Promise<GroupHandle> {
    const envelopes = buildGroup(signatures);
    await this.push('group', envelopes.map(encodeEnvelope));
    return new GroupHandle(
      envelopes.map((e) => e.id),
      envelopes.map((e) => e.task),
      this.reader,
    );
  }

  /**
   * Runs the signatures one after the other, each result the next one's first argument:
   * `chain([sig('add', 1, 2), sig('add', 10)])` is add(add(1, 2), 10). The worker that runs a link enqueues the
   * next (coordination.ts); a link that fails stops the chain, and get() says which.
   */
  async chain(signatures: Signature[]): Promise<ChainHandle> {
    const { first, ids, tasks } = buildChain(signatures);
    await this.push('chain', [encodeEnvelope(first)]);
    return new ChainHandle(ids, tasks, this.reader);
  }

  /**
   * Runs the members together, then `callback` once, with their results in member order as its first argument,
   * after every member succeeded. The worker whose join counts the last member enqueues it, in the same atomic
   * step (solutions/07-coordination/lua/chord-join-4.lua); a member that fails for good fails the chord, and the
   * callback never runs. The chord's id is its callback's task id.
   */
  async chord(signatures: Signature[], callback: Signature): Promise<ChordHandle> {
    const { id, members, record } = buildChord(signatures, callback);
    const raws = members.map(encodeEnvelope);
    if (members.length === 0) {
      // No member to join: the callback goes now, with no results.
      await this.push('chord', [`${record.head}[]${record.tail}`]);
    } else {
      const key = queueKeys(this.name).chord(id);
      const ttl = this.options.resultTtlSeconds ?? DEFAULT_RESULT_TTL_SECONDS;
      // The chord first, then its members: no member can run, and join, before there is a chord to join.
      await this.canvasCall(
        'enqueue chord',
        async (redis) => {
          const replies = await redis
            .multi()
            .hset(key, { ...record })
            .expire(key, ttl)
            .exec();
          for (const [error] of replies ?? []) if (error) throw error;
        },
        true,
      );
      await this.push('chord', raws);
    }
    const group = new GroupHandle(
      members.map((e) => e.id),
      members.map((e) => e.task),
      this.reader,
    );
    return new ChordHandle(id, (callback as Signature).task, group, this.reader);
  }

  private push(what: string, raws: string[]): Promise<void> {
    return this.call(`enqueue ${what}`, (broker) => broker.push(raws), undefined, true);
  }

  /** Canvas reads and writes go on a connection of their own, opened at the first (the broker's is lab 00's). */
  private canvasRedis: Promise<Redis> | undefined;

  private canvasCall<T>(
    what: string,
    run: (redis: Redis) => Promise<T>,
    write = false,
    ms = this.callTimeoutMs,
  ) {
    return bounded(
      what,
      ms,
      this.watch,
      async () => {
        if (!this.canvasRedis) {
          const opening = connectRedis({
            url: this.options.url,
            name: `mq:${this.name}:canvas`,
            failFast: true,
            watch: this.watch,
          });
          this.canvasRedis = opening;
          opening.catch(() => {
            if (this.canvasRedis === opening) this.canvasRedis = undefined;
          });
        }
        return run(await this.canvasRedis);
      },
      { write },
    );
  }

  private readonly reader: CanvasReader = {
    records: (ids, ms) =>
      this.canvasCall(
        'reading results',
        async (redis) => {
          const keys = queueKeys(this.name);
          const out: Array<ResultRecord | undefined> = [];
          // MGET a thousand at a time: one command per thousand members, none too big.
          for (let from = 0; from < ids.length; from += 1000) {
            const raws = await redis.mget(ids.slice(from, from + 1000).map((id) => keys.result(id)));
            for (const raw of raws) out.push(raw === null ? undefined : (JSON.parse(raw) as ResultRecord));
          }
          return out;
        },
        false,
        ms,
      ),
    chord: (id, ms) =>
      this.canvasCall(
        'reading a chord',
        async (redis) => {
          const keys = queueKeys(this.name);
          const [n, state] = await redis.hmget(keys.chord(id), 'n', 'state');
          if (n === null) return undefined;
          const joined = await redis.hlen(keys.chordResults(id));
          return { n: Number(n), joined, ...(state === null ? {} : { state }) };
        },
        false,
        ms,
      ),
  };

  async stats(): Promise<QueueStats> {
    return this.call('stats', (broker) => broker.stats());
  }

  async close(): Promise<void> {
    const canvas = await this.canvasRedis?.catch(() => undefined);
    this.canvasRedis = undefined;
    canvas?.disconnect();
    if (!this.brokerPromise) return;
    const broker = await this.brokerPromise.catch(() => undefined);
    this.brokerPromise = undefined;
    await broker?.close();
  }
}
