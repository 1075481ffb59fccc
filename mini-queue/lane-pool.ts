/**
 * A pool of long-lived lanes (worker threads, prefork children): what every such pool does, whatever its lanes
 * are. Labs 03 and 05 subclass it with what is particular to theirs. Each lane runs `serveCalls()` (lane.ts).
 *
 * A subclass writes:
 *   spawn()             start one lane (a Worker or a ChildProcess); the pool waits for its `ready`
 *   send(handle, call)  hand it one call; the outcome comes back as a `done` message, routed here by id
 *   halt(handle)        stop it now, wherever it is: at a call's time limit and in terminate()
 *   onExit(lane, why)   a lane in service died: settle what it held (fail() or requeue()), replace() it
 *   close()             warm shutdown: drained(), then `stopped`, then stop every lane
 *   afterTask(lane)     optional, after each call a lane finished (recycling)
 *
 * This class does the rest: the waiting line, the hand-out, the time-limit timer, the ready handshake, routing
 * outcomes by id, the guard (a lab step that throws, a TODO included, fails the call it was for, not the
 * process), and lanes that die before `ready` (see startFailed()).
 *
 * How a call moves:
 *
 *   run(call) ─▶ waiting [c5 c4 c3] ─pump: a ready lane, not retired, holding none─▶ lane.job = c1 ─send─▶ lane
 *                   ▲                                                                   │
 *                   └── requeue(lane): first in line again                              ├─ done {id} ─▶ resolve
 *                                                                                       ├─ time limit ─▶ retired,
 *                                                                                       │   halt(), failed
 *                                                                                       └─ lane exits ─▶ onExit
 */
import type { ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { now } from './clock.ts';
import { errorMessage, NotImplemented } from './errors.ts';
import type { FromLane, ToLane } from './lane.ts';
import { Line } from './line.ts';
import {
  POOL_BROKEN,
  type Pool,
  type PoolKind,
  type PoolOptions,
  type TaskCall,
  type TaskOutcome,
} from './pool.ts';

/** Lane starts that may fail in a row, once the pool has run, before it counts as broken. */
const MAX_FAILED_STARTS = 8;
/** The wait before the next start after a failed one: doubled each time, up to the most. */
const RESTART_FIRST_MS = 100;
const RESTART_MOST_MS = 2000;

export abstract class LanePool<H extends LaneHandle, O extends PoolOptions = PoolOptions> implements Pool {
  abstract readonly kind: PoolKind;
  readonly concurrency: number;
  protected readonly lanes = new Set<Lane<H>>();
  protected readonly waiting = new Line<Job>();
  /** No new calls: close() or terminate() was called. */
  protected closing = false;
  /** No replacements either: the lanes are being stopped, and a lane that exits fails what it held. */
  protected stopped = false;
  private broken: Error | undefined;
  private onIdle: Array<() => void> = [];
  /** A lane has been ready once: the tasks module loads here, so a lane that dies before ready was unlucky. */
  private everReady = false;
  /** Lanes in a row that died before they were ready (reset by a lane that gets there). */
  private failedStarts = 0;
  /** Replacements waiting out their back-off before they start: lanes to come, though not in `lanes` yet. */
  private readonly restarts = new Set<NodeJS.Timeout>();

  constructor(protected readonly options: O) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new Error(`concurrency must be an integer >= 1, got ${options.concurrency}`);
    }
    this.concurrency = options.concurrency;
  }

  protected abstract spawn(): H;
  protected abstract send(handle: H, call: ToLane): void;
  protected abstract halt(handle: H): Promise<unknown>;
  protected abstract onExit(lane: Lane<H>, reason: string): void;
  abstract close(): Promise<void>;
  protected afterTask(_lane: Lane<H>): void {}

  /** Starts `concurrency` lanes; resolves when every one is ready, or rejects with why one could not start. */
  start(): Promise<void> {
    return Promise.all(Array.from({ length: this.concurrency }, () => this.startLane())).then(() => {});
  }

  run(call: TaskCall): Promise<TaskOutcome> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closing) return Promise.reject(new Error(`the ${this.kind} pool is closed`));
    return new Promise((resolve) => {
      this.waiting.push({ call, resolve });
      this.pump();
    });
  }

  /** Cold stop: every lane now, running calls included (they fail; the broker gives them back later). */
  async terminate(): Promise<void> {
    this.closing = true;
    this.stopped = true;
    for (const timer of this.restarts) clearTimeout(timer);
    this.restarts.clear();
    for (const job of this.waiting.takeAll())
      job.resolve(failure('PoolTerminated', 'the pool was terminated'));
    await Promise.all([...this.lanes].map((lane) => this.haltOrLetGo(lane)));
  }

  /** Resolves when nothing waits and no lane holds a call. */
  drained(): Promise<void> {
    return new Promise((resolve) => {
      this.onIdle.push(resolve);
      this.settleIdle();
    });
  }

  /** Starts one more lane (a replacement). If it dies before it is ready, see startFailed(). */
  protected replace(): void {
    void this.startLane().catch(() => {});
  }

  /** Settles the call `lane` holds as a failure, now, and hands out the next one (to another lane if retired). */
  protected fail(lane: Lane<H>, name: string, message: string): void {
    const job = lane.job;
    if (!job) return;
    lane.job = undefined;
    clearTimeout(job.timer);
    job.resolve(failure(name, message, lane.name, job.startedAt));
    this.pump();
    this.settleIdle();
  }

  /** Puts the call `lane` holds first in line again, marked `redelivered`: it runs once more, on another lane. */
  protected requeue(lane: Lane<H>): void {
    const job = lane.job;
    if (!job) return;
    lane.job = undefined;
    clearTimeout(job.timer);
    job.redelivered = true;
    this.waiting.unshift(job);
    this.pump();
  }

  private startLane(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let handle: H;
      try {
        handle = this.spawn();
      } catch (error) {
        // A lane that cannot even be started: the same as one that dies before it is ready.
        this.startFailed(error, resolve, reject);
        return;
      }
      const lane: Lane<H> = { handle, name: laneName(handle), ready: false, retired: false, served: 0 };
      this.lanes.add(lane);
      const events = handle as EventEmitter;
      events.on('message', (message: FromLane) => {
        if (message.type === 'ready') {
          lane.ready = true;
          this.everReady = true;
          this.failedStarts = 0;
          resolve();
          this.pump();
        } else this.finish(lane, message.id, message.outcome);
      });
      // What killed it comes before its 'exit'. For a child it may also be a send to a child that just died:
      // its 'exit' follows and settles the call.
      events.on('error', (error) => {
        lane.error = errorMessage(error);
      });
      events.on('exit', (code: number | null, signal?: NodeJS.Signals | null) => {
        this.lanes.delete(lane);
        const reason = `${signal ? `killed by ${signal}` : `exited with code ${code}`}${lane.error ? ` (${lane.error})` : ''}`;
        if (!lane.ready) {
          const error = new Error(
            lane.error ?? `${lane.name} ${reason} before it was ready: see its output above`,
          );
          this.startFailed(error, resolve, reject);
        } else if (this.stopped) {
          // Shutting down: nothing to replace. After a cold terminate() a call may still be held: it fails.
          this.fail(lane, 'PoolTerminated', 'the pool was terminated');
        } else this.guard(lane, () => this.onExit(lane, reason));
        // No lane left and none coming: what waits would wait forever. It fails now, saying why.
        if (this.lanes.size === 0 && this.restarts.size === 0 && this.waiting.length > 0) {
          if (!this.stopped) {
            this.breakPool(
              new Error(`the ${this.kind} pool has no lane left: one died and none took its place`),
            );
          }
          for (const job of this.waiting.takeAll()) {
            job.resolve(failure('PoolTerminated', 'the pool stopped its lanes before this call ran'));
          }
        }
        this.settleIdle();
      });
    });
  }

  /**
   * A lane died before it was ready, or could not be spawned. Before any lane was ever ready, that is how every
   * start will end (a tasks module that throws at import, a TODO): the pool breaks now, and createPool() rejects
   * with why. Once lanes have run, it is bad luck (the OOM killer, a kill -9 during start-up): another lane starts
   * after a back-off that doubles with each failure in a row, so a pool never forks in a busy loop. Only
   * MAX_FAILED_STARTS in a row break it then: the worker gives back what it holds and stops (worker.ts).
   * `resolve`/`reject` settle the start this lane was for: a replacement carries them on.
   */
  private startFailed(cause: unknown, resolve: () => void, reject: (error: Error) => void): void {
    const error = cause instanceof Error ? cause : new Error(errorMessage(cause));
    this.failedStarts++;
    if (!this.everReady || this.stopped || error instanceof NotImplemented) {
      reject(this.breakPool(error));
      return;
    }
    if (this.failedStarts >= MAX_FAILED_STARTS) {
      const why = `the ${this.kind} pool cannot start its lanes (${this.failedStarts} in a row died before they were ready; the last: ${error.message})`;
      reject(this.breakPool(new Error(why)));
      return;
    }
    const delay = Math.min(RESTART_FIRST_MS * 2 ** (this.failedStarts - 1), RESTART_MOST_MS);
    const timer = setTimeout(() => {
      this.restarts.delete(timer);
      if (this.stopped || this.broken) reject(this.broken ?? new Error(`the ${this.kind} pool was stopped`));
      else this.startLane().then(resolve, reject);
    }, delay);
    this.restarts.add(timer);
  }

  /** Hands waiting calls to ready lanes that hold none, each with its time limit running. */
  private pump(): void {
    for (const lane of this.lanes) {
      if (this.waiting.length === 0) return;
      if (!lane.ready || lane.retired || lane.job) continue;
      const job = this.waiting.shift()!;
      lane.job = job;
      job.startedAt = now();
      const { id, task, args, attempt, timeout } = job.call;
      if (timeout !== undefined) job.timer = setTimeout(() => this.timeUp(lane, job), timeout);
      this.guard(lane, () => this.send(lane.handle, { id, task, args, attempt }));
    }
  }

  /** A lane sent an outcome: give it to whoever waits for that call, then feed the lane again. */
  private finish(lane: Lane<H>, id: string, outcome: TaskOutcome): void {
    const job = lane.job;
    // Match by id: an outcome that arrives after its time limit belongs to nobody any more.
    if (!job || job.call.id !== id) return;
    clearTimeout(job.timer);
    lane.served++;
    // Before the next call can reach this lane: a lane due for recycling must get none.
    this.guard(lane, () => this.afterTask(lane));
    if (lane.job === job) {
      lane.job = undefined;
      job.resolve(outcome);
    }
    this.pump();
    this.settleIdle();
  }

  /** The call ran past its hard time limit. */
  private timeUp(lane: Lane<H>, job: Job): void {
    if (lane.job !== job) return;
    // Retire first, so fail() cannot hand this lane the next call. A task in a loop never yields, so no message
    // can stop it: the lane is halted from outside, and onExit() replaces it.
    lane.retired = true;
    this.guard(lane, () => void Promise.resolve(this.halt(lane.handle)).catch(() => {}));
    this.fail(lane, 'TimeLimitExceeded', `time limit of ${job.call.timeout} ms exceeded`);
  }

  /** halt() for terminate(). A lane halt() does not stop (not written yet, or wrong) must not hold us open. */
  private haltOrLetGo(lane: Lane<H>): Promise<void> {
    let halted: Promise<unknown> | undefined;
    this.guard(lane, () => {
      halted = Promise.resolve(this.halt(lane.handle));
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, halted ? 1000 : 0);
    });
    return Promise.race([halted?.catch(() => {}), late]).then(() => {
      clearTimeout(timer);
      if (!this.lanes.has(lane)) return;
      lane.handle.unref();
      this.fail(lane, 'PoolTerminated', 'the pool was terminated');
    });
  }

  /** Runs a lab step; a TODO not done (or a bug) fails the lane's call with its message, not the process. */
  private guard(lane: Lane<H>, step: () => void): void {
    try {
      step();
    } catch (error) {
      const name = error instanceof NotImplemented ? 'NotImplemented' : 'Error';
      this.fail(lane, name, errorMessage(error));
      // A step not written yet fails the same way for every call: those waiting fail now rather than hang.
      if (error instanceof NotImplemented) this.breakPool(error);
      this.settleIdle();
    }
  }

  /** The pool cannot start lanes: what waits fails now, and run() rejects from here on. */
  private breakPool(cause: unknown): Error {
    const error = cause instanceof Error ? cause : new Error(errorMessage(cause));
    this.broken ??= error;
    for (const job of this.waiting.takeAll()) job.resolve(failure(POOL_BROKEN, error.message));
    this.settleIdle();
    return error;
  }

  private settleIdle(): void {
    const busy = this.waiting.length > 0 || [...this.lanes].some((lane) => lane.job);
    if (busy) return;
    for (const resolve of this.onIdle.splice(0)) resolve();
  }
}

/**
 * Starts a lane pool's lanes and resolves with the pool once every one is ready; if one cannot start, stops the
 * others and rejects with why.
 */
export async function startLanes<P extends LanePool<LaneHandle>>(pool: P): Promise<P> {
  try {
    await pool.start();
  } catch (error) {
    await pool.terminate();
    throw error;
  }
  return pool;
}

/** What a lane runs in: a worker thread or a child process (both say 'message', 'error' and 'exit'). */
export type LaneHandle = Worker | ChildProcess;

export interface Lane<H extends LaneHandle = LaneHandle> {
  readonly handle: H;
  /** `thread-<threadId>` or `pid-<pid>`: a replacement gets a new name, so the timeline shows it. */
  readonly name: string;
  /** Said `ready`: it has loaded the tasks module. */
  ready: boolean;
  /** Out of service (stopping, recycled, past a time limit): gets no more calls. */
  retired: boolean;
  /** The call it runs now: a lane runs one at a time. */
  job?: Job;
  /** Calls it finished (a `done` came back). */
  served: number;
  /** What killed it, from the 'error' event that comes before 'exit'. */
  error?: string;
}

export interface Job {
  call: TaskCall;
  resolve: (outcome: TaskOutcome) => void;
  timer?: NodeJS.Timeout;
  /** When it was handed to its lane: a call failed from here (a time limit, a lost lane) ran from then. */
  startedAt?: number;
  /** Given back once already by requeue() (a pool that redelivers a lost call does it once only). */
  redelivered?: boolean;
}

function laneName(handle: LaneHandle): string {
  return 'threadId' in handle ? `thread-${handle.threadId}` : `pid-${handle.pid}`;
}

function failure(name: string, message: string, lane = 'main', startedAt?: number): TaskOutcome {
  const at = now();
  return { ok: false, error: { name, message }, lane, startedAt: startedAt ?? at, finishedAt: at };
}
