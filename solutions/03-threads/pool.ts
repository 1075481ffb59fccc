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
    // (03.1) The thread gets the tasks module's path, never code: it imports the module itself, in its isolate.
    return new Worker(entry, { workerData });
  }

  protected send(worker: Worker, call: ToLane): void {
    // (03.3) Post a name and arguments, not a function: the thread has its own copy of the tasks module, and
    // only structured-cloneable data crosses between isolates.
    worker.postMessage(call);
  }

  /** A thread in service is gone: it crashed (an uncaught error, process.exit() in a task) or was halted. */
  protected onExit(lane: Lane<Worker>, reason: string): void {
    // (03.4) A call held by a dead thread must settle now, as a failure: otherwise the worker waits forever and
    // the message is neither acked nor given back.
    if (lane.job) this.fail(lane, 'WorkerLostError', `${lane.name} died: ${reason}`);
    // (03.4) Keep the pool at its size: the next call needs a thread (onExit is not called while stopping).
    this.replace();
  }

  /** Stops a thread now, wherever it is: at a call's time limit (the pool has retired it), and in terminate(). */
  protected halt(worker: Worker): Promise<unknown> {
    // (03.5) A synchronous loop never yields, so no message could stop it: terminate() stops the isolate
    // wherever it is, from out here. Its exit then reaches onExit (03.4), which replaces it.
    return worker.terminate();
  }

  /** Warm close: what was given runs to the end, then every thread stops. */
  async close(): Promise<void> {
    this.closing = true;
    // (03.6) Wait first: terminating now would kill running tasks; warm means they finish and are acked.
    await this.drained();
    this.stopped = true;
    await Promise.all([...this.lanes].map((lane) => this.halt(lane.handle)));
  }
}
