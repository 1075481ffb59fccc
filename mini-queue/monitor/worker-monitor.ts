import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Envelope } from '../envelope.ts';
import type { Pool, TaskCall } from '../pool.ts';
import { connectRedis } from '../redis/client.ts';
import type { EventRef } from './batch-builder.ts';
import { BEAT_INTERVAL_MS, Heartbeat } from './heartbeat.ts';
import { EventPublisher } from './publisher.ts';
import type { LaneState, TaskEventType, WorkerBeat } from './types.ts';

export interface WorkerMonitorOptions {
  queue: string;
  url?: string;
  pool: Pool;
  processes?: number;
  /** Publish task events (heartbeats are written either way). */
  events: boolean;
  intervalMs?: number;
  /** How many messages the worker holds now. */
  holding: () => number;
}

/** One message a worker holds, as the monitor follows it (Worker keeps it with the message). */
export interface MonitorRun extends EventRef {
  id: string;
  task: string;
  attempt: number;
  /** When it was handed to the pool (epoch ms); 0 before. */
  since: number;
  /** The slot it runs in, 1-based, for a pool that does not tell its lanes; 0 otherwise, or not handed yet. */
  slot: number;
}

/**
 * A worker's side of the monitor: its counts and lanes in a heartbeat, and its task events, on a Redis connection
 * of its own. Built for the worker's hot path: a no-op task costs a counter, and when someone listens three
 * records of numbers that collapse into one or two (EventPublisher batches them).
 *
 * Lanes: a pool that tells them (Pool.laneStates and Pool.observe: threads, prefork, coroutines, solo) names its
 * own, and says when a call begins where. For the others (event-loop, processes, multi-process), each run handed
 * to the pool takes the lowest free slot, `slot-1..slot-C`, and its events carry that name: with one message per
 * slot (prefetch 1) a run handed over is a run begun.
 */
export class WorkerMonitor {
  readonly id: string;
  private readonly startedAt = Date.now();
  private readonly observed: boolean;
  /** Derived slots only: free slot numbers, lowest first, and what runs in the others. */
  private readonly free: number[] = [];
  private readonly slots = new Map<number, MonitorRun>();
  /** Pools that tell their lanes: the runs they hold, by id, so their events reuse the encoded head. */
  private readonly byId = new Map<string, MonitorRun>();
  private done = 0;
  private failed = 0;
  private retried = 0;

  private constructor(
    private readonly redis: Redis,
    private readonly options: WorkerMonitorOptions,
    private readonly heartbeat: Heartbeat,
    private readonly publisher: EventPublisher | undefined,
    id: string,
  ) {
    this.id = id;
    const { pool } = options;
    this.observed = typeof pool.laneStates === 'function' && typeof pool.observe === 'function';
    if (this.observed) {
      pool.observe!({
        began: (call, lane, at) => {
          if (this.listening) this.push('started', this.refOf(call), at, lane);
        },
        lost: (call, lane, reason) => {
          if (this.listening)
            this.push('lost', this.refOf(call), Date.now(), lane, undefined, `WorkerLost: ${lane} ${reason}`);
        },
      });
    } else for (let i = 1; i <= pool.concurrency; i++) this.free.push(i);
  }

  /** Connects, writes the first beat and, with events on, asks whether anyone listens. */
  static async start(options: WorkerMonitorOptions): Promise<WorkerMonitor> {
    const redis = await connectRedis({
      ...(options.url === undefined ? {} : { url: options.url }),
      name: 'mq-monitor',
    });
    const id = `${HOST}:${process.pid}:${randomBytes(3).toString('hex')}`;
    const publisher = options.events ? new EventPublisher(redis, options.queue, id) : undefined;
    let monitor: WorkerMonitor | undefined;
    const heartbeat = new Heartbeat(
      redis,
      options.queue,
      id,
      () => monitor!.snapshot(),
      options.intervalMs ?? BEAT_INTERVAL_MS,
      // Each beat also asks again who listens: a dashboard opened later gets events within an interval.
      () => void publisher?.refresh(),
    );
    monitor = new WorkerMonitor(redis, options, heartbeat, publisher, id);
    try {
      await publisher?.refresh();
      await heartbeat.start();
    } catch (error) {
      redis.disconnect();
      throw error;
    }
    return monitor;
  }

  /** Someone listens to the events: only then are they built. */
  private get listening(): boolean {
    return this.publisher?.listening === true;
  }

  /**
   * A valid message reached this worker: the run the other calls take. A message whose worker died comes back
   * marked (`redelivered`): its last run was lost.
   */
  received(envelope: Envelope): MonitorRun {
    const run: MonitorRun = {
      id: envelope.id,
      task: envelope.task,
      attempt: envelope.attempt,
      since: 0,
      slot: 0,
      batch: 0,
      record: 0,
    };
    if (this.listening) {
      const at = Date.now();
      if (envelope.redelivered !== undefined) {
        const times = envelope.redelivered === 1 ? 'once' : `${envelope.redelivered} times`;
        const why = `WorkerLost: the worker running it died (${times}); it came back when its lease ran out`;
        this.push('lost', run, at, undefined, undefined, why);
      }
      this.push('received', run, at);
    }
    if (this.observed) this.byId.set(run.id, run);
    return run;
  }

  /** The message is handed to the pool now. */
  started(run: MonitorRun, at: number): void {
    run.since = at;
    if (this.observed) return;
    run.slot = this.free.shift() ?? 0;
    if (run.slot > 0) this.slots.set(run.slot, run);
    if (this.listening) this.push('started', run, at, slotName(run.slot));
  }

  /** The pool is done with a run (whatever became of it), or the worker with its message: its slot is free. */
  finished(run: MonitorRun): void {
    if (this.observed) {
      if (this.byId.get(run.id) === run) this.byId.delete(run.id);
      return;
    }
    if (run.slot === 0 || this.slots.get(run.slot) !== run) return;
    this.slots.delete(run.slot);
    // Lowest first, as the coroutine pool numbers its lanes: a quiet worker shows its work in slot-1.
    let i = 0;
    while (i < this.free.length && this.free[i]! < run.slot) i++;
    this.free.splice(i, 0, run.slot);
  }

  /**
   * A run ended and its ack (or retry) went through. `run` is undefined for a message that was never valid enough
   * to be received.
   */
  settled(
    run: MonitorRun | undefined,
    record: {
      id: string;
      task: string;
      attempt: number;
      lane?: string;
      startedAt?: number;
      finishedAt?: number;
      error?: { name: string; message: string };
    },
    state: 'SUCCESS' | 'FAILURE' | 'RETRY',
  ): void {
    if (state === 'RETRY') this.retried++;
    else {
      this.done++;
      if (state === 'FAILURE') this.failed++;
    }
    if (!this.listening) return;
    const type: TaskEventType =
      state === 'SUCCESS' ? 'succeeded' : state === 'FAILURE' ? 'failed' : 'retried';
    const lane = run && run.slot > 0 ? slotName(run.slot) : record.lane;
    const runtimeMs =
      record.startedAt !== undefined && record.finishedAt !== undefined
        ? record.finishedAt - record.startedAt
        : undefined;
    const error = record.error ? `${record.error.name}: ${record.error.message}` : undefined;
    const ref = run ?? { id: record.id, task: record.task, attempt: record.attempt };
    this.push(type, ref, record.finishedAt ?? Date.now(), lane, runtimeMs, error);
  }

  /** Stops beating and publishing, removes the record, and disconnects. */
  async stop(): Promise<void> {
    this.publisher?.close();
    await this.heartbeat.stop();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** The heartbeat record now. */
  snapshot(): WorkerBeat {
    const { pool } = this.options;
    return {
      id: this.id,
      host: HOST,
      pid: process.pid,
      queue: this.options.queue,
      pool: pool.kind,
      concurrency: pool.concurrency,
      ...(this.options.processes === undefined ? {} : { processes: this.options.processes }),
      lanes: this.lanes(),
      done: this.done,
      failed: this.failed,
      retried: this.retried,
      inFlight: this.options.holding(),
      startedAt: this.startedAt,
      beatAt: Date.now(),
      intervalMs: this.heartbeat.intervalMs,
    };
  }

  private lanes(): LaneState[] {
    const { pool } = this.options;
    if (this.observed) {
      return pool.laneStates!().map(({ name, running }) =>
        running
          ? { name, task: { id: running.id, name: running.task, since: Math.round(running.since) } }
          : { name },
      );
    }
    return Array.from({ length: pool.concurrency }, (_, i) => {
      const run = this.slots.get(i + 1);
      const name = `slot-${i + 1}`;
      return run ? { name, task: { id: run.id, name: run.task, since: Math.round(run.since) } } : { name };
    });
  }

  /** A pool's call: the run received for it when there is one (so its events of a turn collapse). */
  private refOf(call: Pick<TaskCall, 'id' | 'task' | 'attempt'>): EventRef {
    const run = this.byId.get(call.id);
    return run && run.attempt === call.attempt
      ? run
      : { id: call.id, task: call.task, attempt: call.attempt };
  }

  private push(
    type: TaskEventType,
    ref: EventRef,
    at: number,
    lane?: string,
    runtimeMs?: number,
    error?: string,
  ): void {
    this.publisher!.write(type, ref, at, lane, runtimeMs, error);
  }
}

const HOST = hostname();

/** `slot-N`, made once each: two a task otherwise. */
const SLOT_NAMES: string[] = [];

function slotName(slot: number): string | undefined {
  if (slot <= 0) return undefined;
  SLOT_NAMES[slot] ??= `slot-${slot}`;
  return SLOT_NAMES[slot];
}
