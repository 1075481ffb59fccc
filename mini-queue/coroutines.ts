/**
 * The coroutine contract (lab 02): what a coroutine may yield, the helpers that make those effects, and what a
 * spawned coroutine and its scheduler look like to others. Read this first. Task modules and the `coroutines`
 * pool import from here; the scheduler (built in lab 02, on scheduler-base.ts) interprets the effects. An effect
 * is plain data, so one task module runs on whichever scheduler a track brings.
 *
 *   coroutine ──yield effect──▶ scheduler     undefined: let the others run (round robin)
 *             ◀──next(value)───               { sleep, ms }: resume after the deadline
 *             ◀──throw(error)──               { wait, promise }: resume when it settles (Cancelled: at once)
 */

/** What a coroutine may yield: nothing (a bare `yield`: let the others run) or an effect made by the helpers. */
export type Effect = undefined | SleepEffect | WaitEffect;
export interface SleepEffect {
  readonly kind: 'sleep';
  readonly ms: number;
}
export interface WaitEffect {
  readonly kind: 'wait';
  readonly promise: PromiseLike<unknown>;
}

/** A coroutine: a generator that yields effects and returns T. Write them as `function* (): Coroutine<T>`. */
export type Coroutine<T = unknown> = Generator<Effect, T, unknown>;

/** Suspends the calling coroutine for `ms` (gevent.sleep). `yield* sleep(0)` is a polite "someone else now". */
export function* sleep(ms: number): Coroutine<void> {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`sleep(ms) needs a number >= 0, got ${ms}`);
  yield { kind: 'sleep', ms };
}

/**
 * Suspends the calling coroutine until `promise` settles; resumes with its value, or throws its rejection at the
 * yield. Cooperative I/O: gevent monkey-patches `socket` so every blocking call becomes this, under the hood.
 */
export function* wait<T>(promise: PromiseLike<T>): Coroutine<T> {
  return (yield { kind: 'wait', promise }) as T;
}

/** Waits for another coroutine to finish: its return value, or its error thrown here (gevent's `join`/`get`). */
export function* join<T>(task: Task<T>): Coroutine<T> {
  return yield* wait(task.result);
}

/** Thrown into a coroutine at its yield point by `cancel()`, so its `finally` blocks run (gevent's GreenletExit). */
export class Cancelled extends Error {
  override name = 'Cancelled';
}

/** A spawned coroutine, as others see it. */
export interface Task<T = unknown> {
  readonly id: number;
  readonly name: string;
  /** Settles with the return value, or rejects with what it threw (Cancelled when cancelled). */
  readonly result: Promise<T>;
  readonly state: FiberState;
}

export type FiberState = 'ready' | 'running' | 'sleeping' | 'waiting' | 'done';

/** A coroutine that held the thread longer than the budget: everyone else waited that long. */
export interface Stall {
  name: string;
  ms: number;
  /** How many other coroutines were ready to run meanwhile. */
  starved: number;
}

export interface SchedulerOptions {
  /**
   * How long the scheduler may run coroutines before it gives the event loop a turn (timers, sockets, promise
   * callbacks): the time slice. @default 4
   */
  sliceMs?: number;
  /** A single step longer than this is a stall: reported in `stalls` and to `onStall`. @default 50 */
  stallMs?: number;
  /** Called when a coroutine held the thread longer than `stallMs`. */
  onStall?: (stall: Stall) => void;
}

/** A scheduler of coroutines on one thread (gevent's hub), as the pool, the demo and the checker use it. */
export interface CoroutineScheduler {
  /** Starts a coroutine (gevent.spawn): it runs when its turn comes, not now. */
  spawn<T>(body: Coroutine<T> | (() => Coroutine<T>), name?: string): Task<T>;
  /**
   * Cancels a coroutine: `Cancelled` (or `reason`) is thrown at the yield where it stopped, so its `finally`
   * blocks run, then its task rejects. Returns false when it had already finished.
   */
  cancel(task: Task, reason?: unknown): boolean;
  /** Resolves when every coroutine spawned so far has finished (rejects if the scheduler itself broke). */
  idle(): Promise<void>;
  /** The coroutine running right now, if any (gevent.getcurrent). */
  readonly running: Task | undefined;
  /** How many coroutines have not finished yet. */
  readonly size: number;
  /** Every stall seen so far. */
  readonly stalls: readonly Stall[];
}

/** What `scheduler.ts` of lab 02 exports, in either track. */
export interface SchedulerModule {
  Scheduler: new (options?: SchedulerOptions) => CoroutineScheduler;
}

/** A generator object (what calling a `function*` returns), told apart from any other value. */
export function isCoroutine(value: unknown): value is Coroutine {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Coroutine).next === 'function' &&
    typeof (value as Coroutine).throw === 'function' &&
    Symbol.iterator in value
  );
}

/** A promise or any thenable (what an async task returns). */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}
