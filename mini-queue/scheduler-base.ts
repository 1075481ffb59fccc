import { now } from './clock.ts';
import {
  type Coroutine,
  type CoroutineScheduler,
  type Effect,
  type FiberState,
  isCoroutine,
  type SchedulerOptions,
  type Stall,
  type Task,
} from './coroutines.ts';
import { NotImplemented, UserError } from './errors.ts';

/** What a coroutine's next resume sends in: a value its `yield` evaluates to, or an error raised there. */
export type Owed = { value: unknown } | { error: unknown };

/** A coroutine as its scheduler holds it. */
export interface Fiber {
  readonly task: Task<unknown> & { state: FiberState };
  readonly gen: Coroutine;
  owed: Owed;
  /** When a sleeping fiber is due, ms (clock.now()). */
  wakeAt: number;
  readonly settle: { resolve: (value: unknown) => void; reject: (error: unknown) => void };
  /** Bumped on each park: an answer to an older wait (one that was cancelled) is told apart and dropped. */
  parks: number;
}

/**
 * Everything of lab 02's scheduler that is not the lesson: spawning and finishing fibers, the event-loop hooks
 * (setImmediate for the next turn, one timer for the earliest sleeper), the stall detector, and failing every
 * coroutine at once when the scheduler itself breaks. Lab 02 subclasses it with the turn, resuming, round robin,
 * waiting, sleeping and cancelling.
 *
 *   spawn ─▶ ready ─▶ runTurn ─▶ step ─▶ resume(gen, owed) ─▶ done: finish │ effect: schedule(fiber, effect)
 *   setImmediate(tick) when someone is ready, else one timer for sleepers[0].wakeAt
 */
export abstract class SchedulerBase implements CoroutineScheduler {
  /** Ready to run, in turn order: the run queue. */
  protected readonly ready: Fiber[] = [];
  /** Asleep, earliest deadline first. */
  protected readonly sleepers: Fiber[] = [];
  protected readonly fibers = new Map<number, Fiber>();
  protected readonly sliceMs: number;
  private readonly stallMs: number;
  private readonly onStall: ((stall: Stall) => void) | undefined;
  private nextId = 1;
  private current: Fiber | undefined;
  private tickQueued = false;
  private alarm: NodeJS.Timeout | undefined;
  private alarmAt = Number.POSITIVE_INFINITY;
  private broken: unknown;
  private readonly idleWaiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  /** Every stall seen so far. */
  readonly stalls: Stall[] = [];
  /** How many times a coroutine was resumed: context switches, for the curious. */
  switches = 0;

  constructor(options: SchedulerOptions = {}) {
    this.sliceMs = positive(options.sliceMs ?? 4, 'sliceMs');
    this.stallMs = positive(options.stallMs ?? 50, 'stallMs');
    this.onStall = options.onStall;
  }

  abstract cancel(task: Task, reason?: unknown): boolean;
  /** Runs ready coroutines, from `sliceStart` (clock.now()) until none is ready or the time slice is over. */
  protected abstract runTurn(sliceStart: number): void;
  /** Continues a paused generator: `owed` is what its `yield` evaluates to, or the error raised there. */
  protected abstract resume(gen: Coroutine, owed: Owed): IteratorResult<Effect, unknown>;
  /** Files a coroutine that yielded `effect`: the run queue, the sleepers, or parked on a promise. */
  protected abstract schedule(fiber: Fiber, effect: Effect): void;

  spawn<T>(body: Coroutine<T> | (() => Coroutine<T>), name?: string): Task<T> {
    const gen = typeof body === 'function' ? body() : body;
    if (!isCoroutine(gen)) {
      throw new UserError(`spawn() needs a generator or a function* returning one, got ${typeof gen}`);
    }
    const id = this.nextId++;
    let settle!: Fiber['settle'];
    const result = new Promise<T>((resolve, reject) => {
      settle = { resolve: resolve as (value: unknown) => void, reject };
    });
    // Nobody has to look at a coroutine's failure; whoever joins it still gets the rejection.
    result.catch(() => {});
    const task = { id, name: name ?? `coroutine-${id}`, result, state: 'ready' as FiberState };
    const fiber: Fiber = { task, gen, owed: { value: undefined }, wakeAt: 0, settle, parks: 0 };
    if (this.broken !== undefined) {
      // A broken scheduler runs nothing more: fail at once rather than leave the caller waiting forever.
      this.finish(fiber, { error: this.broken });
      return task;
    }
    this.fibers.set(id, fiber);
    this.makeReady(fiber);
    this.queueTick();
    return task;
  }

  get running(): Task | undefined {
    return this.current?.task;
  }

  get size(): number {
    return this.fibers.size;
  }

  idle(): Promise<void> {
    if (this.broken !== undefined) return Promise.reject(this.broken);
    if (this.fibers.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.idleWaiters.push({ resolve, reject }));
  }

  /** Resumes one coroutine until its next yield, times it, and settles its task or hands on what it yielded. */
  protected step(fiber: Fiber): void {
    this.current = fiber;
    fiber.task.state = 'running';
    const owed = fiber.owed;
    fiber.owed = { value: undefined };
    const started = now();
    let result: IteratorResult<Effect, unknown>;
    try {
      this.switches++;
      result = this.resume(fiber.gen, owed);
    } catch (error) {
      if (this.broken !== undefined) throw this.broken;
      this.finish(fiber, { error });
      return;
    } finally {
      this.current = undefined;
      this.checkStall(fiber, now() - started);
    }
    if (result.done) {
      this.finish(fiber, { value: result.value });
    } else if (isEffect(result.value)) {
      this.schedule(fiber, result.value);
    } else {
      fiber.owed = { error: new TypeError(misuse(result.value)) };
      this.makeReady(fiber);
    }
  }

  /** Puts a fiber at the back of the run queue. */
  protected makeReady(fiber: Fiber): void {
    fiber.task.state = 'ready';
    this.ready.push(fiber);
  }

  /**
   * Marks a fiber waiting and returns its wake-up call: it files `owed` and queues the fiber, once, and only if
   * the fiber still waits on this very park. A fiber cancelled meanwhile (maybe waiting on something else now)
   * drops the late answer.
   */
  protected parked(fiber: Fiber): (owed: Owed) => void {
    fiber.task.state = 'waiting';
    const parked = ++fiber.parks;
    return (owed) => {
      if (fiber.task.state !== 'waiting' || fiber.parks !== parked) return;
      fiber.owed = owed;
      this.makeReady(fiber);
      this.queueTick();
    };
  }

  /** Asks for a scheduler turn on setImmediate: after the event loop has polled sockets and run timers. */
  protected queueTick(): void {
    if (this.tickQueued || this.broken !== undefined) return;
    this.tickQueued = true;
    setImmediate(() => this.tick());
  }

  /** Stops the scheduler with a NotImplemented: the stubs of the lab call it. */
  protected todo(id: string, hint: string): never {
    this.broken = new NotImplemented(id, hint);
    throw this.broken;
  }

  private tick(): void {
    this.tickQueued = false;
    try {
      this.runTurn(now());
    } catch (error) {
      this.fail(error);
      return;
    }
    // The next turn: at once when someone is ready, else at the next deadline.
    if (this.ready.length > 0) this.queueTick();
    else if (this.sleepers[0]) this.armAlarm(this.sleepers[0].wakeAt);
  }

  private finish(fiber: Fiber, outcome: Owed): void {
    fiber.task.state = 'done';
    this.fibers.delete(fiber.task.id);
    if ('error' in outcome) fiber.settle.reject(outcome.error);
    else fiber.settle.resolve(outcome.value);
    if (this.fibers.size === 0) for (const waiter of this.idleWaiters.splice(0)) waiter.resolve();
  }

  /** One timer for all sleepers, set for the earliest deadline (the hub's timer in gevent, libuv's in Node). */
  private armAlarm(at: number): void {
    if (this.alarm && this.alarmAt <= at) return;
    clearTimeout(this.alarm);
    this.alarmAt = at;
    this.alarm = setTimeout(
      () => {
        this.alarm = undefined;
        this.alarmAt = Number.POSITIVE_INFINITY;
        this.queueTick();
      },
      Math.max(0, Math.ceil(at - now())),
    );
  }

  /** Can only speak after the fact, when the hog yields or returns: on one thread nobody else runs to notice. */
  private checkStall(fiber: Fiber, ms: number): void {
    if (ms < this.stallMs) return;
    const stall = {
      name: fiber.task.name,
      ms: Math.round(ms),
      starved: this.ready.length + this.sleepers.length,
    };
    this.stalls.push(stall);
    this.onStall?.(stall);
  }

  /** A TODO not done (or a bug) in the scheduler itself: every coroutine fails with it, nothing hangs. */
  private fail(error: unknown): void {
    this.broken = error;
    clearTimeout(this.alarm);
    for (const fiber of this.fibers.values()) {
      fiber.task.state = 'done';
      fiber.settle.reject(error);
    }
    this.fibers.clear();
    this.ready.length = 0;
    this.sleepers.length = 0;
    for (const waiter of this.idleWaiters.splice(0)) waiter.reject(error);
  }
}

function isEffect(value: unknown): value is Effect {
  const kind = (value as { kind?: unknown } | null | undefined)?.kind;
  return value === undefined || kind === 'sleep' || kind === 'wait';
}

/** Yielding the helper instead of delegating to it is the classic slip: say so at the yield. */
function misuse(value: unknown): string {
  return isCoroutine(value)
    ? 'a coroutine yielded a generator: write `yield* sleep(ms)` / `yield* wait(p)`, with the star'
    : `a coroutine yielded ${JSON.stringify(value)}: yield nothing, or yield* sleep(ms) / wait(promise) / join(task)`;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new UserError(`${name} must be a number > 0, got ${value}`);
  return value;
}
