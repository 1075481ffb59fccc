/**
 * Lab 03 — a worker_threads pool: Celery's `-P threads`, except that here the threads really run in parallel.
 *
 * Goal: N long-lived worker threads, each a separate V8 isolate that imports the tasks module by path. The main
 * thread hands over a task by message and gets its outcome back by task id. A thread that crashes is replaced
 * and its task fails (never lost, never hung); a task past its hard time limit has its thread terminated and
 * replaced; close() lets what was given finish, then stops every thread.
 *
 *   run(call) ──▶ waiting [c5 c4 c3] ──dispatch──▶ thread-2 (c1) ──done {id, outcome}──▶ resolve(c1)
 *                                          └─────▶ thread-3 (c2)    exit / time limit ──▶ fail(c2), respawn
 *
 * Pass: `npx tsx labs/03-threads` shows a speedup near the core count; `npm run check -- 03` passes.
 *
 * Try this to break it: in dispatch(), replace the postMessage with `void runInline(this.options, job.call,
 * lane.name).then((outcome) => this.finish(lane, outcome))`. Every result is still right; the speedup table goes
 * flat at 1.0, because the work never left the main thread.
 */
import { Worker } from 'node:worker_threads';
import { now } from '../../mini-queue/clock.ts';
import { errorMessage, NotImplemented } from '../../mini-queue/errors.ts';
import type { Pool, PoolOptions, TaskCall, TaskOutcome } from '../../mini-queue/pool.ts';
import { TS_THREAD_ENTRY, tsThreadData } from '../../mini-queue/runtime/typescript.ts';
import type { FromThread, ToThread } from './thread.ts';

/** What each thread runs: it loads the tasks module, says `ready`, then runs what it is sent. */
const THREAD_MODULE = new URL('./thread.ts', import.meta.url);

interface Job {
  call: TaskCall;
  resolve: (outcome: TaskOutcome) => void;
  timer?: NodeJS.Timeout;
}

interface Lane {
  worker: Worker;
  /** `thread-<threadId>`: a replacement gets a new id, so the timeline shows it. */
  name: string;
  ready: boolean;
  /** Being terminated (time limit): gets no more calls. */
  retired?: boolean;
  /** The call this thread runs now; a thread runs one at a time. */
  job?: Job;
  /** What killed it, from the 'error' event that comes before 'exit'. */
  error?: string;
}

/** Starts the threads and resolves once every one has loaded the tasks module. */
export async function createPool(options: PoolOptions): Promise<Pool> {
  const pool = new ThreadPool(options);
  try {
    await pool.started;
  } catch (error) {
    await pool.terminate();
    throw error;
  }
  return pool;
}

export class ThreadPool implements Pool {
  readonly kind = 'threads' as const;
  readonly concurrency: number;
  /** Settles when the first threads are ready, or rejects with why one could not start. */
  readonly started: Promise<void>;
  private readonly lanes = new Set<Lane>();
  private readonly waiting: Job[] = [];
  /** No new calls (close() was called). */
  private closing = false;
  /** No new threads either (close() is terminating them). */
  private stopped = false;
  private broken: Error | undefined;
  private onIdle: Array<() => void> = [];

  constructor(private readonly options: PoolOptions) {
    this.concurrency = options.concurrency;
    const first: Array<Promise<void>> = [];
    for (let i = 0; i < options.concurrency; i++) first.push(this.startLane());
    this.started = Promise.all(first).then(() => {});
  }

  run(call: TaskCall): Promise<TaskOutcome> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closing) return Promise.reject(new Error('the threads pool is closed'));
    return new Promise((resolve) => {
      this.waiting.push({ call, resolve });
      this.pump();
    });
  }

  /** Warm close: what was given runs to the end, then every thread stops. */
  async close(): Promise<void> {
    this.closing = true;
    // TODO(03.6): warm close. Wait until what was given is done (this.drained()), then set this.stopped (so no
    // thread is replaced) and terminate every thread, waiting for them all.
    throw new NotImplemented(
      '03.6',
      `close(): await this.drained(), then terminate ${this.lanes.size} thread(s)`,
    );
  }

  /** Cold stop: every thread now, running tasks included (they fail; the broker gives them back later). */
  async terminate(): Promise<void> {
    this.closing = true;
    this.stopped = true;
    for (const job of this.waiting.splice(0))
      job.resolve(failure('PoolTerminated', 'the pool was terminated'));
    await Promise.all([...this.lanes].map((lane) => lane.worker.terminate()));
  }

  private startLane(): Promise<void> {
    const worker = this.spawn();
    const lane: Lane = { worker, name: `thread-${worker.threadId}`, ready: false };
    this.lanes.add(lane);
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (message: FromThread) => {
        if (message.type === 'ready') {
          lane.ready = true;
          resolve();
          this.pump();
        } else this.guard(lane, () => this.finish(lane, message.outcome, message.id));
      });
      worker.on('error', (error) => {
        lane.error = errorMessage(error);
      });
      worker.on('exit', (code) => {
        this.lanes.delete(lane);
        if (!lane.ready) {
          // It died loading the tasks module: a new thread would die the same way, so the pool is broken.
          const error = new Error(lane.error ?? `a thread exited with code ${code} before it was ready`);
          this.broken ??= error;
          reject(error);
          for (const job of this.waiting.splice(0)) job.resolve(failure('PoolBroken', error.message));
          this.settleIdle();
          return;
        }
        if (this.stopped) {
          // Shutting down: nothing to replace. After a cold terminate() a call may still be held: it fails.
          if (lane.job)
            this.finish(lane, { ...failure('PoolTerminated', 'the pool was terminated'), lane: lane.name });
        } else this.guard(lane, () => this.onExit(lane, code));
        this.settleIdle();
      });
    });
  }

  private spawn(): Worker {
    // The .mjs entry registers tsx, then imports THREAD_MODULE: a .ts entry fails on Node 20 (DESIGN.md).
    const entry = TS_THREAD_ENTRY;
    const workerData = tsThreadData(THREAD_MODULE, { tasksPath: this.options.tasksPath });
    // TODO(03.1): start a worker thread running `entry` with this `workerData`, and return it.
    throw new NotImplemented(
      '03.1',
      `spawn(): return new ${Worker.name}(entry, { workerData }) (entry: ${entry}, tasks: ${workerData.tasksPath})`,
    );
  }

  private dispatch(lane: Lane, job: Job): void {
    // TODO(03.3): hand the call to the thread: post it a message (toThread(job.call)). Its
    // outcome comes back as a 'done' message, which the handler in startLane() gives to finish().
    throw new NotImplemented(
      '03.3',
      `dispatch(): ${lane.name}.worker.postMessage(toThread(call)) for ${toThread(job.call).task}`,
    );
  }

  /** A thread posted an outcome: give it to whoever is waiting for that task id, then feed the thread again. */
  private finish(lane: Lane, outcome: TaskOutcome, id = lane.job?.call.id): void {
    const job = lane.job;
    // (03.3) Match by id: an outcome that arrives after its time limit belongs to nobody any more.
    if (!job || job.call.id !== id) return;
    lane.job = undefined;
    clearTimeout(job.timer);
    job.resolve(outcome);
    this.pump();
    this.settleIdle();
  }

  /** The thread is gone: crashed (uncaught error, process.exit() in a task) or terminated. */
  private onExit(lane: Lane, code: number): void {
    // TODO(03.4): if this thread held a call (lane.job), settle it now as a failure (finish() with a failure
    // outcome naming lane.error or the exit code). Then start a replacement (startLane()).
    throw new NotImplemented(
      '03.4',
      `onExit(): ${lane.name} exited (code ${code}) holding ${lane.job?.call.task ?? 'no task'}: fail its task, start a new thread`,
    );
  }

  /** The running task passed its hard time limit. */
  private timeUp(lane: Lane): void {
    const job = lane.job;
    if (!job) return;
    // TODO(03.5): the task ran past job.call.timeout. Stop its thread (this.retire(lane): no message can stop a
    // loop that never yields) and fail the task with a 'TimeLimitExceeded' outcome (finish()).
    throw new NotImplemented(
      '03.5',
      `timeUp(): ${job.call.task} on ${lane.name} passed ${job.call.timeout} ms: retire the thread, fail the task`,
    );
  }

  // Don't change below this line.

  /** Hands waiting calls to ready threads that hold none. */
  private pump(): void {
    for (const lane of this.lanes) {
      if (this.waiting.length === 0) return;
      if (!lane.ready || lane.retired || lane.job) continue;
      const job = this.waiting.shift()!;
      lane.job = job;
      const { timeout } = job.call;
      if (timeout !== undefined) {
        job.timer = setTimeout(() => this.guard(lane, () => this.timeUp(lane)), timeout);
      }
      this.guard(lane, () => this.dispatch(lane, job));
    }
  }

  /** Takes a thread out of service and stops it; its 'exit' comes later. */
  retire(lane: Lane): void {
    lane.retired = true;
    void lane.worker.terminate();
  }

  /** Runs a step of the pool; a TODO not done (or a bug) fails the lane's task with its message, not the process. */
  private guard(lane: Lane, step: () => void): void {
    try {
      step();
    } catch (error) {
      const job = lane.job;
      lane.job = undefined;
      if (job) {
        clearTimeout(job.timer);
        job.resolve({
          ...failure(error instanceof NotImplemented ? 'NotImplemented' : 'Error', errorMessage(error)),
          lane: lane.name,
        });
      }
      if (error instanceof NotImplemented) this.broken ??= error;
      this.settleIdle();
    }
  }

  /** Resolves when nothing waits and no thread holds a call. */
  drained(): Promise<void> {
    return new Promise((resolve) => {
      this.onIdle.push(resolve);
      this.settleIdle();
    });
  }

  private settleIdle(): void {
    const busy = this.waiting.length > 0 || [...this.lanes].some((lane) => lane.job);
    if (busy) return;
    for (const resolve of this.onIdle.splice(0)) resolve();
  }
}

/** What the thread needs of a call: not its time limit, which the main thread enforces (a thread cannot stop itself). */
function toThread(call: TaskCall): ToThread {
  return { id: call.id, task: call.task, args: call.args, attempt: call.attempt };
}

function failure(name: string, message: string): TaskOutcome {
  const at = now();
  return { ok: false, error: { name, message }, lane: 'main', startedAt: at, finishedAt: at };
}
