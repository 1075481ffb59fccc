/**
 * Lab 05 — the prefork pool: Celery's default (`-P prefork`), N child processes started ahead and reused.
 *
 * Goal: fork N children once (each imports the tasks module once) and hand each a call at a time over IPC. What a
 * prefork pool adds is yours: a child killed under a task (even by `kill -9`) fails that task or, acks late, runs
 * it again, and is replaced; a child that ran `maxTasksPerChild` tasks is recycled. The waiting line, the
 * hand-out and the hard time limit are the chassis's LanePool (mini-queue/lane-pool.ts), as in lab 03.
 *
 *   run(call) ─▶ waiting [c5 c4 c3] ─send─▶ pid-41 (c1, 2 done)  ─{done, id, outcome}─▶ resolve
 *                                   └─send─▶ pid-42 (c2, 3 done)  ─▶ recycled after K: pid-57
 *                       exit (crash, kill -9) ─▶ fail (or redeliver) the call, fork a new child
 *
 * Pass: `npx tsx labs/05-prefork` shows a speedup near the core count, new pids after recycling, a killed child
 * and every task still accounted for; `npm run check -- 05` passes.
 *
 * Try this to break it: in onExit(), leave out the replacement. Kill a child (the demo does): the pool shrinks,
 * the speedup is gone, and with one child the next call waits forever.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ToLane } from '../../mini-queue/lane.ts';
import { type Lane, LanePool, startLanes } from '../../mini-queue/lane-pool.ts';
import type { Pool, PoolOptions } from '../../mini-queue/pool.ts';
import { tsChildExecArgv } from '../../mini-queue/runtime/typescript.ts';

const CHILD_MODULE = fileURLToPath(new URL('./child.ts', import.meta.url));

export interface PreforkOptions extends PoolOptions {
  /**
   * Recycle a child after it ran this many tasks (Celery's `worker_max_tasks_per_child`): a leak in a task (a
   * cache, a native handle) cannot grow forever. @default undefined (never)
   */
  maxTasksPerChild?: number;
  /**
   * When a child dies under a task, run that task once more on another child instead of failing it (Celery's
   * `task_acks_late` + `task_reject_on_worker_lost`): at least once, so the task must be idempotent. A task that
   * kills its child again then fails. @default false
   */
  rejectOnWorkerLost?: boolean;
}

/** Forks the children and resolves once every one has loaded the tasks module. */
export async function createPool(options: PreforkOptions): Promise<Pool> {
  return startLanes(new PreforkPool(options));
}

export class PreforkPool extends LanePool<ChildProcess, PreforkOptions> {
  readonly kind = 'prefork' as const;

  constructor(options: PreforkOptions) {
    const max = options.maxTasksPerChild;
    if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
      throw new Error(`maxTasksPerChild must be an integer >= 1, got ${max}`);
    }
    super(options);
  }

  protected spawn(): ChildProcess {
    const execArgv = tsChildExecArgv();
    // (05.1) fork, not spawn: it opens the IPC channel. The child gets the tasks module's path (never code) and
    // imports it once; 'advanced' serialization sends what structured clone can (Map, Date, BigInt), like threads.
    return fork(CHILD_MODULE, [this.options.tasksPath], { execArgv, serialization: 'advanced' });
  }

  protected send(child: ChildProcess, call: ToLane): void {
    // (05.2) Over IPC, like a thread's postMessage but between processes: the call is copied, never shared.
    child.send(call);
  }

  /** A child in service is gone: crashed, killed (kill -9, the OOM killer), recycled or halted. */
  protected onExit(lane: Lane<ChildProcess>, reason: string): void {
    const job = lane.job;
    // (05.3) acks late: the task never finished, so it runs again on another child, first in line; once only, or
    // a task that always kills its child would loop forever.
    if (job && this.options.rejectOnWorkerLost && !job.redelivered) this.requeue(lane);
    // (05.3) Otherwise settle it now, as a failure: a call left pending would hold its message, unacked, forever.
    else if (job) this.fail(lane, 'WorkerLostError', `${lane.name} ${reason} while running ${job.call.task}`);
    // (05.3) A pool that does not replace its dead shrinks a little with every crash, down to nothing.
    this.replace();
  }

  /** After each task a child finished: a child that served its quota is recycled. */
  protected override afterTask(lane: Lane<ChildProcess>): void {
    const max = this.options.maxTasksPerChild;
    if (max === undefined) return;
    // (05.4) Retire after exactly max tasks: retired, it gets no new call; asked to leave, it exits (it is idle:
    // its task just finished), and onExit (05.3) forks its successor.
    if (lane.served >= max) {
      lane.retired = true;
      void this.leave(lane.handle);
    }
  }

  // Don't change below this line.

  /** The pids of the children now, for demos and checks (`ps` would show the same). */
  pids(): number[] {
    return [...this.lanes].flatMap((lane) => (lane.handle.pid === undefined ? [] : [lane.handle.pid]));
  }

  /** Warm close: what was given finishes, then every child is asked to leave and waited for. */
  async close(): Promise<void> {
    this.closing = true;
    await this.drained();
    this.stopped = true;
    await Promise.all([...this.lanes].map((lane) => this.leave(lane.handle)));
  }

  /** SIGKILL, at a time limit and in terminate(): a task cannot catch, block or delay it, unlike SIGTERM. */
  protected halt(child: ChildProcess): Promise<void> {
    return this.leave(child, 0);
  }

  /** Asks a child to leave (IPC disconnect: see child.ts), SIGKILL after `graceMs`; resolves at its exit. */
  private leave(child: ChildProcess, graceMs = 2000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (graceMs > 0 && child.connected) child.disconnect();
    else child.kill('SIGKILL');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    return exited.finally(() => clearTimeout(timer));
  }
}
