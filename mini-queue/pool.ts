import type { TaskRegistry } from './tasks.ts';

/**
 * The pool contract: how the worker hands a task to an execution model. Read this first; the labs implement it.
 *
 *   worker ──run(call)──▶ pool ──▶ lane (main thread, coroutine, worker thread, child process)
 *          ◀──outcome────        ◀──
 *
 * `run` accepts any number of calls and runs at most `concurrency` at once; the rest wait inside the pool. It
 * never rejects because a task failed: a failure is an outcome. It rejects only if the pool itself is broken; calls
 * that were waiting in a pool when it broke settle as a failure named POOL_BROKEN. Neither is the task's fault: the
 * worker gives the message back to the queue and stops (a pool that cannot start lanes cannot run anything).
 */
export interface Pool {
  readonly kind: PoolKind;
  readonly concurrency: number;
  run(call: TaskCall): Promise<TaskOutcome>;
  /** Waits for the calls already given to finish, then releases threads and processes. */
  close(): Promise<void>;
  /**
   * Cold shutdown: stop now. Kills threads and child processes; what they ran is abandoned (the worker has
   * already given those messages back to the queue). Optional: an in-process pool cannot stop running code.
   */
  terminate?(): Promise<void>;
  /**
   * Optional, for the worker's heartbeat (mini-queue/monitor/): every lane and the call it runs now. A pool
   * without it (or without `observe`) has its running calls numbered into slots by the worker instead.
   */
  laneStates?(): PoolLane[];
  /** Optional, with `laneStates`: tells `observer` as calls begin on a lane, and when a lane dies under one. */
  observe?(observer: PoolObserver): void;
}

/** A lane (a thread, a child process, a coroutine slot, the main thread) and the call it runs, if any. */
export interface PoolLane {
  /** As outcomes name it (RunTiming.lane). */
  name: string;
  running?: { id: string; task: string; since: number };
}

/** What a pool that tells its lanes reports as it goes (Pool.observe). Called synchronously: keep it cheap. */
export interface PoolObserver {
  /** `call` begins on `lane` now: handed to an idle lane, or its turn came on the lane it was sent ahead to. */
  began(call: TaskCall, lane: string, at: number): void;
  /** `lane` died while it ran `call` (killed, crashed): the pool fails the call or runs it again elsewhere. */
  lost(call: TaskCall, lane: string, reason: string): void;
}

/** The error name of a call's outcome when the pool broke (could not start lanes) before it ran the call. */
export const POOL_BROKEN = 'PoolBroken';

export const POOL_KINDS = ['solo', 'event-loop', 'coroutines', 'threads', 'processes', 'prefork'] as const;
export type PoolKind = (typeof POOL_KINDS)[number];

/** One task run, as the pool sees it: the task is named, never shipped as code. */
export interface TaskCall {
  id: string;
  task: string;
  args: unknown[];
  attempt: number;
  /** Hard time limit for this run, ms. */
  timeout?: number;
}

/** Where and when a run happened: the instrumentation every timeline and speedup figure is computed from. */
export interface RunTiming {
  /** The lane that ran it: `main`, `coroutine-3`, `thread-2`, `pid-4242`. */
  lane: string;
  /** Epoch ms (sub-ms precision), taken in the lane itself. */
  startedAt: number;
  finishedAt: number;
}

export type TaskOutcome =
  | ({ ok: true; value: unknown } & RunTiming)
  | ({ ok: false; error: { name: string; message: string } } & RunTiming);

export interface PoolOptions {
  concurrency: number;
  /** Absolute path of the tasks module: threads and processes import it themselves. */
  tasksPath: string;
  /** The same module, already imported in this thread. */
  registry: TaskRegistry;
}

export type CreatePool = (options: PoolOptions) => Pool | Promise<Pool>;
