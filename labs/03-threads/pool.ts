/**
 * Lab 03 — a worker_threads pool: Celery's `-P threads`, except that here the threads really run in parallel.
 *
 * Goal: N long-lived worker threads, each a separate V8 isolate that imports the tasks module by path. A call goes
 * over by message, its outcome comes back by task id. The waiting line, the hand-out and the time-limit timer are
 * the chassis's (mini-queue/lane-pool.ts); what is particular to threads is yours: start one, post it a call, fail
 * a dead thread's call and replace it, terminate a runaway, close warm.
 *
 *   run(call) ──▶ waiting [c5 c4 c3] ──send──▶ thread-2 (c1) ──{done, id, outcome}──▶ resolve(c1)
 *                                    └──send──▶ thread-3 (c2)    exit / time limit ──▶ fail(c2), new thread
 *
 * Pass: `npx tsx labs/03-threads` shows a speedup near the core count; `npm run check -- 03` passes.
 *
 * Try this to break it: in send(), run the task right here instead, with runInline() from
 * mini-queue/pools/solo.ts, and emit its outcome as the worker's 'message'. Every result is still right; the
 * speedup table goes flat at 1.0, because the work never left the main thread.
 */
import { Worker } from 'node:worker_threads';
import { NotImplemented } from '../../mini-queue/errors.ts';
import type { ToLane } from '../../mini-queue/lane.ts';
import { type Lane, LanePool, startLanes } from '../../mini-queue/lane-pool.ts';
import type { Pool, PoolOptions } from '../../mini-queue/pool.ts';
import { TS_THREAD_ENTRY, tsThreadData } from '../../mini-queue/runtime/typescript.ts';

/** What each thread runs: it loads the tasks module, says `ready`, then runs what it is sent. */
const THREAD_MODULE = new URL('./thread.ts', import.meta.url);

/** Starts the threads and resolves once every one has loaded the tasks module. */
export async function createPool(options: PoolOptions): Promise<Pool> {
  return startLanes(new ThreadPool(options));
}

export class ThreadPool extends LanePool<Worker> {
  readonly kind = 'threads' as const;

  protected spawn(): Worker {
    // The .mjs entry registers tsx, then imports THREAD_MODULE: a .ts entry fails on Node 20 (DESIGN.md).
    const entry = TS_THREAD_ENTRY;
    const workerData = tsThreadData(THREAD_MODULE, { tasksPath: this.options.tasksPath });
    // TODO(03.1): start a worker thread running `entry` with this `workerData`, and return it.
    throw new NotImplemented(
      '03.1',
      'no thread runs the tasks yet: every call waits for a thread that never starts',
    );
  }

  protected send(worker: Worker, call: ToLane): void {
    // TODO(03.3): hand the call to the thread as a message. Its outcome comes back as a 'done' message with the
    // call's id, and the pool gives it to whoever waits for that id.
    throw new NotImplemented(
      '03.3',
      'the threads are up, but no task is handed to one: each waits in line forever',
    );
  }

  /** A thread in service is gone: it crashed (an uncaught error, process.exit() in a task) or was halted. */
  protected onExit(lane: Lane<Worker>, reason: string): void {
    // TODO(03.4): if this thread held a call (lane.job), settle it now as a failure named 'WorkerLostError' that
    // says which thread died and why (this.fail). Then start a thread in its place (this.replace).
    throw new NotImplemented(
      '03.4',
      'a thread that dies under a task leaves that task waiting forever, and the pool one thread short',
    );
  }

  /** Stops a thread now, wherever it is: at a call's time limit (the pool has retired it), and in terminate(). */
  protected halt(worker: Worker): Promise<unknown> {
    // TODO(03.5): stop this thread from the main thread, even in the middle of a loop that never yields, and
    // return a promise that settles once it is gone.
    throw new NotImplemented(
      '03.5',
      'a runaway task is reported failed at its time limit, but its thread spins on at 100% of a core for good',
    );
  }

  /** Warm close: what was given runs to the end, then every thread stops. */
  async close(): Promise<void> {
    this.closing = true;
    // TODO(03.6): warm close. Wait until what was given is done (this.drained()), then set this.stopped (so no
    // thread is replaced) and stop every thread (halt), waiting for them all.
    throw new NotImplemented(
      '03.6',
      'closing neither waits for the tasks already given nor stops the threads: they run on after it',
    );
  }
}
