/**
 * Lab 05 — the prefork pool: Celery's default (`-P prefork`), N child processes started ahead and reused.
 *
 * Goal: fork N children once (each imports the tasks module once), hand each a call at a time over IPC, and keep
 * the pool whole: a child that dies (even by `kill -9`) is replaced and its task fails, never lost or hung; a
 * child that ran `maxTasksPerChild` tasks is recycled; a task past its hard time limit has its child killed.
 *
 *   run(call) ─▶ waiting [c5 c4 c3] ─dispatch: child.send─▶ pid-41 (c1, 2 done)  ─{done, id, outcome}─▶ resolve
 *                                                    └─────▶ pid-42 (c2, 3 done)  ─▶ recycled after K: pid-57
 *                       exit (crash, kill -9) / SIGKILL at the time limit ─▶ fail the call, fork a new child
 *
 * Pass: `npx tsx labs/05-prefork` shows a speedup near the core count, new pids after recycling, a killed child
 * and every task still accounted for; `npm run check -- 05` passes.
 *
 * Try this to break it: in onExit(), leave out the replacement. Kill a child (the demo does): the pool shrinks,
 * the speedup is gone, and with one child the next call waits forever.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { now } from '../../mini-queue/clock.ts';
import { errorMessage, NotImplemented } from '../../mini-queue/errors.ts';
import type { Pool, PoolOptions, TaskCall, TaskOutcome } from '../../mini-queue/pool.ts';
import { tsChildExecArgv } from '../../mini-queue/runtime/typescript.ts';
import type { FromChild, ToChild } from './child.ts';

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

interface Job {
  call: TaskCall;
  resolve: (outcome: TaskOutcome) => void;
  timer?: NodeJS.Timeout;
  /** Already given a second run after its child died (rejectOnWorkerLost). */
  redelivered?: boolean;
}

interface Lane {
  child: ChildProcess;
  /** `pid-<pid>`: a replacement has a new pid, so recycling shows in the timeline. */
  name: string;
  ready: boolean;
  /** Tasks this child has finished. */
  served: number;
  /** Being recycled or killed: gets no more calls. */
  retired?: boolean;
  job?: Job;
  error?: string;
}

export async function createPool(options: PreforkOptions): Promise<Pool> {
  const pool = new PreforkPool(options);
  try {
    await pool.started;
  } catch (error) {
    await pool.terminate();
    throw error;
  }
  return pool;
}

export class PreforkPool implements Pool {
  readonly kind = 'prefork' as const;
  readonly concurrency: number;
  readonly started: Promise<void>;
  private readonly lanes = new Set<Lane>();
  private readonly waiting: Job[] = [];
  private closing = false;
  private stopped = false;
  private broken: Error | undefined;
  private onIdle: Array<() => void> = [];

  constructor(private readonly options: PreforkOptions) {
    const max = options.maxTasksPerChild;
    if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
      throw new Error(`maxTasksPerChild must be an integer >= 1, got ${max}`);
    }
    this.concurrency = options.concurrency;
    const first: Array<Promise<void>> = [];
    for (let i = 0; i < options.concurrency; i++) first.push(this.startLane());
    this.started = Promise.all(first).then(() => {});
  }

  run(call: TaskCall): Promise<TaskOutcome> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closing) return Promise.reject(new Error('the prefork pool is closed'));
    return new Promise((resolve) => {
      this.waiting.push({ call, resolve });
      this.pump();
    });
  }

  /** The pids of the children now, for demos and checks (`ps` would show the same). */
  pids(): number[] {
    return [...this.lanes].flatMap((lane) => (lane.child.pid === undefined ? [] : [lane.child.pid]));
  }

  /** Warm close: what was given finishes, then every child is asked to leave (IPC disconnect) and waited for. */
  async close(): Promise<void> {
    this.closing = true;
    await this.drained();
    this.stopped = true;
    await Promise.all([...this.lanes].map((lane) => this.stop(lane, 2000)));
  }

  /** Cold stop: SIGKILL every child now; what they ran fails (the broker gives it back after its lease). */
  async terminate(): Promise<void> {
    this.closing = true;
    this.stopped = true;
    for (const job of this.waiting.splice(0))
      job.resolve(failure('PoolTerminated', 'the pool was terminated'));
    await Promise.all([...this.lanes].map((lane) => this.stop(lane, 0)));
  }

  private startLane(): Promise<void> {
    const child = this.spawn();
    const lane: Lane = { child, name: `pid-${child.pid}`, ready: false, served: 0 };
    this.lanes.add(lane);
    return new Promise<void>((resolve, reject) => {
      child.on('message', (message: FromChild) => {
        if (message.type === 'ready') {
          lane.ready = true;
          resolve();
          this.pump();
        } else this.guard(lane, () => this.finish(lane, message.outcome, message.id));
      });
      // Sending to a child that just died fails here, not in send(): its 'exit' follows and settles the call.
      child.on('error', (error) => {
        lane.error = errorMessage(error);
      });
      child.on('exit', (code, signal) => {
        this.lanes.delete(lane);
        if (!lane.ready) {
          // It died loading the tasks module: a new child would die the same way, so the pool is broken.
          const error = new Error(
            lane.error ??
              `a child exited (${signal ?? `code ${code}`}) before it was ready: see its output above`,
          );
          this.broken ??= error;
          reject(error);
          for (const job of this.waiting.splice(0)) job.resolve(failure('PoolBroken', error.message));
        } else if (this.stopped) {
          if (lane.job)
            this.finish(lane, { ...failure('PoolTerminated', 'the pool was terminated'), lane: lane.name });
        } else
          this.guard(lane, () =>
            this.onExit(lane, signal ? `killed by ${signal}` : `exited with code ${code}`),
          );
        this.settleIdle();
      });
    });
  }

  private spawn(): ChildProcess {
    const execArgv = tsChildExecArgv();
    // TODO(05.1): fork CHILD_MODULE with the tasks module's path as its one argument, `execArgv` (so the child
    // can run TypeScript) and serialization 'advanced'; return the ChildProcess.
    throw new NotImplemented(
      '05.1',
      `spawn(): return ${fork.name}(CHILD_MODULE, [tasksPath], { execArgv, serialization: 'advanced' }) (execArgv: ${execArgv.length} flags; child: ${CHILD_MODULE}; tasks: ${this.options.tasksPath})`,
    );
  }

  private dispatch(lane: Lane, job: Job): void {
    // TODO(05.2): send the call to the child over its IPC channel (toChild(job.call)). Its outcome comes back
    // as a 'done' message, which the handler in startLane() gives to finish().
    throw new NotImplemented(
      '05.2',
      `dispatch(): ${lane.name}.child.send(toChild(call)) for ${toChild(job.call).task}`,
    );
  }

  /** A child posted an outcome: give it to whoever waits for that task id, then feed or recycle the child. */
  private finish(lane: Lane, outcome: TaskOutcome, id = lane.job?.call.id): void {
    const job = lane.job;
    if (!job || job.call.id !== id) return;
    clearTimeout(job.timer);
    lane.served++;
    // Before the next call can reach this child: a child due for recycling must get none.
    this.guard(lane, () => this.afterTask(lane));
    if (lane.job === job) {
      lane.job = undefined;
      job.resolve(outcome);
    }
    this.pump();
    this.settleIdle();
  }

  /** The child is gone: crashed, killed (kill -9, the OOM killer), recycled or stopped at a time limit. */
  private onExit(lane: Lane, reason: string): void {
    // TODO(05.3): if the child held a call (lane.job), take it off the lane, clear its timer, and either fail it
    // (a 'WorkerLostError' outcome naming `reason`) or, with this.options.rejectOnWorkerLost and not yet
    // redelivered, mark it redelivered and put it first in this.waiting. Then fork a replacement (startLane()).
    throw new NotImplemented(
      '05.3',
      `onExit(): ${lane.name} ${reason} holding ${lane.job?.call.task ?? 'no task'}: fail its task, fork a new child`,
    );
  }

  /** After each finished task: a child that served its quota is recycled. */
  private afterTask(lane: Lane): void {
    const max = this.options.maxTasksPerChild;
    if (max === undefined) return;
    // TODO(05.4): once this child has served `max` tasks (lane.served), recycle it: this.stop(lane, 2000) retires
    // it (no new call), asks it to leave, and your onExit (05.3) forks its successor.
    throw new NotImplemented(
      '05.4',
      `afterTask(): ${lane.name} served ${lane.served} of maxTasksPerChild ${max}: stop it when it reaches ${max}`,
    );
  }

  /** The running task passed its hard time limit. */
  private timeUp(lane: Lane): void {
    const job = lane.job;
    if (!job) return;
    // TODO(05.5): the task ran past job.call.timeout. Mark the lane retired (so finish() hands it nothing more),
    // kill the child with a signal it cannot catch, and fail the task with a 'TimeLimitExceeded' outcome (finish()).
    throw new NotImplemented(
      '05.5',
      `timeUp(): ${job.call.task} on ${lane.name} passed ${job.call.timeout} ms: retire and kill the child, fail the task`,
    );
  }

  // Don't change below this line.

  /** Hands waiting calls to ready children that hold none. */
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

  /** Asks a child to leave (disconnect: it exits when idle), SIGKILL after `graceMs`; resolves at its exit. */
  stop(lane: Lane, graceMs: number): Promise<void> {
    lane.retired = true;
    const { child } = lane;
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (graceMs > 0 && child.connected) child.disconnect();
    else child.kill('SIGKILL');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    return exited.finally(() => clearTimeout(timer));
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
        const name = error instanceof NotImplemented ? 'NotImplemented' : 'Error';
        job.resolve({ ...failure(name, errorMessage(error)), lane: lane.name });
      }
      if (error instanceof NotImplemented) this.broken ??= error;
      this.settleIdle();
    }
  }

  /** Resolves when nothing waits and no child holds a call. */
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

/** What the child needs of a call: not its time limit, which the parent enforces (it can kill the child). */
function toChild(call: TaskCall): ToChild {
  return { id: call.id, task: call.task, args: call.args, attempt: call.attempt };
}

function failure(name: string, message: string): TaskOutcome {
  const at = now();
  return { ok: false, error: { name, message }, lane: 'main', startedAt: at, finishedAt: at };
}
