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
 * process), lanes that die before `ready` (see startFailed()), and calls sent ahead (below).
 *
 * How a call moves:
 *
 *   run(call) ─▶ waiting [c5 c4 c3] ─pump: a ready lane, not retired, holding none─▶ lane.job = c1 ─send─▶ lane
 *                   ▲                                                                   │
 *                   └── requeue(lane): first in line again                              ├─ done {id} ─▶ resolve
 *                                                                                       ├─ time limit ─▶ retired,
 *                                                                                       │   halt(), failed
 *                                                                                       └─ lane exits ─▶ onExit
 *
 * Sent ahead: when every lane holds a call and more wait, each lane is also sent the next one (lane.ahead), which
 * it runs as soon as the one before ends, without waiting for the outcome to reach us and the next call to come
 * back: a thread never sits idle for a round trip between two tasks. It is still one call at a time per lane
 * (lane.ts queues it), and `lane.job` is still the one running: a call sent ahead becomes the job when the outcome
 * before it arrives, and its time limit counts from then. A lane that dies or is halted gives back what it was sent
 * ahead, first in line and not marked redelivered (it never ran). The price: a call sent ahead waits behind that
 * lane's call even if another lane frees up first, so it is sent only when no lane is idle (a worker reserving one
 * message per slot never fills a pool that far). A pool that recycles lanes after a task (afterTask) sends nothing
 * ahead: a call sent to a lane on its way out would run there, or die with it half done.
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
  type PoolLane,
  type PoolObserver,
  type PoolOptions,
  type TaskCall,
  type TaskOutcome,
} from './pool.ts';

/** Lane starts that may fail in a row, once the pool has run, before it counts as broken. */
const MAX_FAILED_STARTS = 8;
/** Calls sent ahead to a lane that runs one already: one hides the round trip; more only make a longer wait. */
const AHEAD = 1;
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
  /** Calls go ahead to busy lanes: not when afterTask may retire a lane (recycling) after the call it runs now. */
  private readonly sendsAhead: boolean;
  /** The worker's heartbeat and events (Pool.observe). */
  private observer: PoolObserver | undefined;

  constructor(protected readonly options: O) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new Error(`concurrency must be an integer >= 1, got ${options.concurrency}`);
    }
    this.concurrency = options.concurrency;
    this.sendsAhead = this.afterTask === LanePool.prototype.afterTask;
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

  laneStates(): PoolLane[] {
    return [...this.lanes].map(({ name, job }) =>
      job
        ? { name, running: { id: job.call.id, task: job.call.task, since: job.startedAt ?? now() } }
        : { name },
    );
  }

  observe(observer: PoolObserver): void {
    this.observer = observer;
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
    // The lane lives on (a lab step threw in here, not in the lane): what it was sent ahead runs next, or has begun.
    this.promote(lane);
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
      const lane: Lane<H> = {
        handle,
        name: laneName(handle),
        ready: false,
        retired: false,
        served: 0,
        ahead: [],
      };
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
          this.failAhead(lane, 'PoolTerminated', 'the pool was terminated');
          this.fail(lane, 'PoolTerminated', 'the pool was terminated');
        } else {
          if (lane.job) this.observer?.lost(lane.job.call, lane.name, reason);
          // Before onExit: a call it requeues goes first, ahead of these (it was sent to the lane before them).
          this.giveBackAhead(lane);
          this.guard(lane, () => this.onExit(lane, reason));
          this.pump();
        }
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

  /**
   * Hands waiting calls to ready lanes that hold none, each with its time limit running; then, while calls still
   * wait, one more to each busy lane (sent ahead: see the top of this file).
   */
  private pump(): void {
    for (const lane of this.lanes) {
      if (this.waiting.length === 0) return;
      if (!lane.ready || lane.retired || lane.job) continue;
      const job = this.waiting.shift()!;
      this.begin(lane, job);
      this.guard(lane, () => this.send(lane.handle, toLane(job.call)));
    }
    if (!this.sendsAhead) return;
    for (let depth = 0; depth < AHEAD; depth++) {
      for (const lane of this.lanes) {
        if (this.waiting.length === 0) return;
        if (!lane.ready || lane.retired || !lane.job || lane.ahead.length > depth) continue;
        this.sendAhead(lane, this.waiting.shift()!);
      }
    }
  }

  /** `job` runs on `lane` from now: its time limit starts. */
  private begin(lane: Lane<H>, job: Job): void {
    lane.job = job;
    job.startedAt = now();
    this.observer?.began(job.call, lane.name, job.startedAt);
    const timeout = job.call.timeout;
    if (timeout !== undefined) job.timer = setTimeout(() => this.timeUp(lane, job), timeout);
  }

  /** Sends `job` to a lane busy with another: it waits in the lane, not started, so no time limit runs yet. */
  private sendAhead(lane: Lane<H>, job: Job): void {
    lane.ahead.push(job);
    try {
      this.send(lane.handle, toLane(job.call));
    } catch (error) {
      // This call could not be sent (a TODO, a value that cannot be copied): it fails, not the one that runs.
      lane.ahead.splice(lane.ahead.indexOf(job), 1);
      const name = error instanceof NotImplemented ? 'NotImplemented' : 'Error';
      job.resolve(failure(name, errorMessage(error), lane.name));
      if (error instanceof NotImplemented) this.breakPool(error);
    }
  }

  /** The lane's call ended: the one sent ahead of it has started there (the lane runs them in order). */
  private promote(lane: Lane<H>): void {
    const next = lane.ahead.shift();
    if (next) this.begin(lane, next);
  }

  /** A lane sent an outcome: give it to whoever waits for that call, then feed the lane again. */
  private finish(lane: Lane<H>, id: string, outcome: TaskOutcome): void {
    const job = lane.job;
    // Match by id: an outcome that arrives after its time limit belongs to nobody any more.
    if (!job || job.call.id !== id) {
      this.finishedAhead(lane, id, outcome);
      return;
    }
    clearTimeout(job.timer);
    lane.served++;
    // Before the next call can reach this lane: a lane due for recycling must get none.
    this.guard(lane, () => this.afterTask(lane));
    // Retired all the same (not by a recycling afterTask, which sends nothing ahead): what it holds runs elsewhere.
    if (lane.retired) this.giveBackAhead(lane);
    if (lane.job === job) {
      lane.job = undefined;
      job.resolve(outcome);
      this.promote(lane);
    }
    this.pump();
    this.settleIdle();
  }

  /**
   * An outcome for a call sent ahead, before the one the lane runs: only a lane that does not run its calls in
   * order (not serveCalls()) sends that. The call is done all the same, and must not wait for an outcome that
   * already came.
   */
  private finishedAhead(lane: Lane<H>, id: string, outcome: TaskOutcome): void {
    const at = lane.ahead.findIndex((job) => job.call.id === id);
    if (at < 0) return;
    const [job] = lane.ahead.splice(at, 1);
    lane.served++;
    this.guard(lane, () => this.afterTask(lane));
    job!.resolve(outcome);
    this.pump();
    this.settleIdle();
  }

  /**
   * What `lane` was sent ahead goes back first in line, in the order it was sent, not marked redelivered: the lane
   * is dead or leaving and never began it (if it just had, as the time limit struck, that run dies with the lane).
   */
  private giveBackAhead(lane: Lane<H>): void {
    const ahead = lane.ahead.splice(0);
    for (let i = ahead.length - 1; i >= 0; i--) this.waiting.unshift(ahead[i]!);
  }

  /** What `lane` was sent ahead fails: the pool is stopping, no other lane will take it. */
  private failAhead(lane: Lane<H>, name: string, message: string): void {
    for (const job of lane.ahead.splice(0)) job.resolve(failure(name, message, lane.name));
  }

  /** The call ran past its hard time limit. */
  private timeUp(lane: Lane<H>, job: Job): void {
    if (lane.job !== job) return;
    // Retire first, so fail() cannot hand this lane the next call. A task in a loop never yields, so no message
    // can stop it: the lane is halted from outside, and onExit() replaces it. What was sent ahead to it runs
    // elsewhere, now: not after the halt, which a lab's halt() not written yet would never end.
    lane.retired = true;
    this.giveBackAhead(lane);
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
      this.failAhead(lane, 'PoolTerminated', 'the pool was terminated');
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
    const busy = this.waiting.length > 0 || [...this.lanes].some((lane) => lane.job || lane.ahead.length > 0);
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
  /** Calls sent to it after `job`, not begun yet (as far as we know): each becomes the job in turn. */
  readonly ahead: Job[];
  /** Calls it finished (a `done` came back). */
  served: number;
  /** What killed it, from the 'error' event that comes before 'exit'. */
  error?: string;
}

export interface Job {
  call: TaskCall;
  resolve: (outcome: TaskOutcome) => void;
  timer?: NodeJS.Timeout;
  /**
   * When it began on its lane: handed to an idle lane, or, sent ahead, when the outcome of the call before it came
   * back. Its time limit counts from here; a call failed from here (a time limit, a lost lane) ran from then.
   */
  startedAt?: number;
  /** Given back once already by requeue() (a pool that redelivers a lost call does it once only). */
  redelivered?: boolean;
}

/** What crosses to the lane: never the time limit (the pool enforces it: it can stop the lane). */
function toLane({ id, task, args, attempt }: TaskCall): ToLane {
  return { id, task, args, attempt };
}

function laneName(handle: LaneHandle): string {
  return 'threadId' in handle ? `thread-${handle.threadId}` : `pid-${handle.pid}`;
}

function failure(name: string, message: string, lane = 'main', startedAt?: number): TaskOutcome {
  const at = now();
  return { ok: false, error: { name, message }, lane, startedAt: startedAt ?? at, finishedAt: at };
}
