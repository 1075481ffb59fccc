import type { Broker, BrokerOptions, QueueStats, ResultRecord, TaskState } from './broker.ts';
import { createEnvelope, type EnqueueOptions, encodeEnvelope } from './envelope.ts';
import { UserError } from './errors.ts';
import { openBroker, type Track } from './parts.ts';

export interface QueueOptions extends BrokerOptions {
  /** Which broker to use: the reference (`solutions`) or lab 00's (`labs`). @default 'solutions' */
  track?: Track;
}

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
    private readonly broker: () => Promise<Broker>,
  ) {}

  /** The stored record, or undefined while PENDING (not started yet, or unknown, or expired). */
  async info(): Promise<ResultRecord | undefined> {
    return (await this.broker()).result(this.id);
  }

  async state(): Promise<TaskState> {
    return (await this.info())?.state ?? 'PENDING';
  }

  /**
   * Waits for SUCCESS and returns the value; throws TaskFailedError on FAILURE and ResultTimeoutError when
   * `timeout` passes first. Polls with a growing interval (5 ms up to 100 ms): cheap, and nothing to lose if
   * the producer and the worker start in any order.
   */
  async result(options: { timeout?: number } = {}): Promise<unknown> {
    const timeout = options.timeout ?? 30_000;
    const deadline = Date.now() + timeout;
    let interval = 5;
    for (;;) {
      const record = await this.info();
      if (record?.state === 'SUCCESS') return record.result;
      if (record?.state === 'FAILURE') {
        throw new TaskFailedError(
          this.id,
          record.task,
          record.error ?? { name: 'Error', message: 'unknown' },
        );
      }
      if (Date.now() >= deadline) throw new ResultTimeoutError(this.id, record?.state ?? 'PENDING', timeout);
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

  constructor(private readonly options: QueueOptions & { name?: string } = {}) {
    this.name = options.name ?? options.queue ?? 'default';
  }

  private broker = (): Promise<Broker> => {
    this.brokerPromise ??= openBroker({ ...this.options, queue: this.name }, this.options.track);
    return this.brokerPromise;
  };

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
    const broker = await this.broker();
    const envelopes = argsList.map((args) => createEnvelope(task, args, options));
    const raws = envelopes.map(encodeEnvelope);
    const now = Date.now();
    const due = envelopes[0]?.eta;
    if (due !== undefined && due > now) {
      // Delayed work waits in Redis (the delayed set), not in a worker's memory.
      for (const raw of raws) await broker.schedule(raw, due);
    } else {
      await broker.push(raws);
    }
    return envelopes.map((envelope) => new TaskHandle(envelope.id, this.broker));
  }

  /** A handle for a task enqueued elsewhere. */
  handle(id: string): TaskHandle {
    return new TaskHandle(id, this.broker);
  }

  async stats(): Promise<QueueStats> {
    return (await this.broker()).stats();
  }

  async close(): Promise<void> {
    if (!this.brokerPromise) return;
    const broker = await this.brokerPromise.catch(() => undefined);
    this.brokerPromise = undefined;
    await broker?.close();
  }
}
