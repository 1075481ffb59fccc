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
import { NotImplemented } from '../../mini-queue/errors.ts';
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
    // TODO(05.1): fork CHILD_MODULE with the tasks module's path as its one argument, `execArgv` (so the child
    // can run TypeScript) and serialization 'advanced'; return the ChildProcess.
    throw new NotImplemented('05.1', 'no child process is started, so the pool has nobody to hand a task to');
  }

  protected send(child: ChildProcess, call: ToLane): void {
    // TODO(05.2): send the call to the child over its IPC channel. Its outcome comes back as a 'done' message
    // with the call's id, and the pool gives it to whoever waits for that id.
    throw new NotImplemented(
      '05.2',
      'the processes are up, but no task is handed to one: each waits in line forever',
    );
  }

  /** A child in service is gone: crashed, killed (kill -9, the OOM killer), recycled or halted. */
  protected onExit(lane: Lane<ChildProcess>, reason: string): void {
    // TODO(05.3): if the child held a call (lane.job), settle it now as a failure named 'WorkerLostError' that
    // says which child, how it died and what it ran (this.fail), or, with this.options.rejectOnWorkerLost and the
    // call not yet redelivered, give it back first in line (this.requeue). Then fork a replacement (this.replace).
    throw new NotImplemented(
      '05.3',
      'a child killed with kill -9 leaves what it held waiting forever, and the pool one child short',
    );
  }

  /** After each task a child finished: a child that served its quota is recycled. */
  protected override afterTask(lane: Lane<ChildProcess>): void {
    const max = this.options.maxTasksPerChild;
    if (max === undefined) return;
    // TODO(05.4): once this child has served `max` tasks (lane.served), recycle it: mark it retired (no new call)
    // and ask it to leave (this.leave, below); your onExit (05.3) forks its successor.
    throw new NotImplemented('05.4', 'a child runs task after task forever: none is swapped for a fresh one');
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
