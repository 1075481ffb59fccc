/**
 * Lab 02 — green threads by hand: a cooperative scheduler on generator functions.
 *
 * Goal: what gevent and eventlet do for Celery's `-P gevent -c 1000`: many light "greenlets" on one thread, each
 * running until it yields, then the next one in line. A generator is a coroutine: `yield` suspends it with its
 * whole stack of locals, `next()` resumes it where it stopped. A scheduler decides who runs next.
 *
 *   spawn ──▶ ready  [ c3 c1 c4 ] ──▶ step(c3) ──┬─ bare `yield`         ──▶ back of ready (round robin)
 *               ▲                                ├─ yield* sleep(ms)     ──▶ sleepers, by deadline ─┐
 *               │                                ├─ yield* wait(promise) ──▶ parked until it settles ┤
 *               └──────────── wake ◀─────────────┴─ return / throw       ──▶ done: its task settles  │
 *               └───────────────────────────────── timer / promise callback ◀────────────────────────┘
 *
 * Pass: `npx tsx labs/02-coroutines` prints three greenlets interleaved, keeps the heartbeat alive beside
 * CPU-bound coroutines that yield, and names the one that does not; `npm run check -- 02` passes.
 *
 * Try this to break it: in step(), put a coroutine that yielded at the *front* of the ready queue instead of
 * the back. Every coroutine now runs to completion before the next one starts: no interleaving at all.
 */
import { now } from '../../mini-queue/clock.ts';
import { NotImplemented, UserError } from '../../mini-queue/errors.ts';

/** What a coroutine may yield: nothing (a bare `yield`: let the others run) or an effect made by the helpers. */
export type Effect = undefined | { readonly kind: 'sleep'; readonly ms: number } | WaitEffect;
interface WaitEffect {
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

interface Fiber {
  readonly task: Task<unknown> & { state: FiberState };
  readonly gen: Coroutine;
  /** What the next resume sends in: a value for next(), or an error for throw(). */
  owed: { value: unknown } | { error: unknown };
  /** When a sleeping fiber is due, ms (clock.now()). */
  wakeAt: number;
  settle: { resolve: (value: unknown) => void; reject: (error: unknown) => void };
  /** Bumped on each park: an answer to an older wait (one that was cancelled) is told apart and dropped. */
  parks: number;
}

export class Scheduler {
  /** Ready to run, in turn order: the run queue. */
  private readonly ready: Fiber[] = [];
  /** Asleep, earliest deadline first. */
  private readonly sleepers: Fiber[] = [];
  private readonly fibers = new Map<number, Fiber>();
  private nextId = 1;
  private current: Fiber | undefined;
  private tickQueued = false;
  private alarm: NodeJS.Timeout | undefined;
  private alarmAt = Number.POSITIVE_INFINITY;
  private broken: unknown;
  private readonly idleWaiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  private readonly sliceMs: number;
  private readonly stallMs: number;
  private readonly onStall: ((stall: Stall) => void) | undefined;
  /** Every stall seen so far. */
  readonly stalls: Stall[] = [];
  /** How many times a coroutine was resumed: context switches, for the curious. */
  switches = 0;

  constructor(options: SchedulerOptions = {}) {
    this.sliceMs = positive(options.sliceMs ?? 4, 'sliceMs');
    this.stallMs = positive(options.stallMs ?? 50, 'stallMs');
    this.onStall = options.onStall;
  }

  /** Starts a coroutine (gevent.spawn): it runs when its turn comes, not now. */
  spawn<T>(body: Coroutine<T> | (() => Coroutine<T>), name?: string): Task<T> {
    const gen = typeof body === 'function' ? body() : body;
    if (!isGenerator(gen)) {
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
    this.ready.push(fiber);
    this.queueTick();
    return task;
  }

  /** The coroutine running right now, if any (gevent.getcurrent). */
  get running(): Task | undefined {
    return this.current?.task;
  }

  /** How many coroutines have not finished yet. */
  get size(): number {
    return this.fibers.size;
  }

  /** Resolves when every coroutine spawned so far has finished (rejects if the scheduler itself broke). */
  idle(): Promise<void> {
    if (this.broken !== undefined) return Promise.reject(this.broken);
    if (this.fibers.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.idleWaiters.push({ resolve, reject }));
  }

  /**
   * Cancels a coroutine: `Cancelled` (or `reason`) is thrown at the yield where it stopped, so its `finally`
   * blocks run, then its task rejects. Returns false when it had already finished.
   */
  cancel(task: Task, reason: unknown = new Cancelled(`${task.name} was cancelled`)): boolean {
    const fiber = this.fibers.get(task.id);
    if (!fiber || fiber.task.state === 'done') return false;
    // TODO(02.5): make `reason` the error its next resume throws (fiber.owed), take it out of `sleepers` if it
    // sleeps, put it back in the run queue if it sleeps or waits (makeReady), queueTick(), and return true.
    return this.todo(
      '02.5',
      `cancel(${task.name}): owe it { error: reason } (${String(reason)}), then makeReady() it so it is thrown`,
    );
  }

  /** One turn of the scheduler: runs ready coroutines for up to one time slice, then gives the loop back. */
  private tick(): void {
    this.tickQueued = false;
    const sliceStart = now();
    try {
      for (;;) {
        this.wakeSleepers(now());
        const fiber = this.ready.shift();
        if (!fiber) break;
        this.step(fiber);
        if (this.sliceOver(sliceStart)) break;
      }
    } catch (error) {
      this.fail(error);
      return;
    }
    this.afterTick();
  }

  /** Is the time slice used up? Then the event loop gets a turn before the next coroutine runs. */
  private sliceOver(sliceStart: number): boolean {
    // TODO(02.2): true once this turn has lasted `this.sliceMs` or more (use now()). Always false would keep
    // the thread while anyone is ready; always true is one coroutine step per event-loop turn.
    return this.todo(
      '02.2',
      `sliceOver(${sliceStart}): now() - sliceStart >= this.sliceMs (${this.sliceMs} ms)`,
    );
  }

  /** Resumes one coroutine until its next yield, and files it by what it yielded. */
  private step(fiber: Fiber): void {
    this.current = fiber;
    fiber.task.state = 'running';
    const owed = fiber.owed;
    fiber.owed = { value: undefined };
    const started = now();
    let result: IteratorResult<Effect, unknown>;
    try {
      this.switches++;
      // TODO(02.1): resume the generator where it stopped: fiber.gen.throw(owed.error) when `owed` holds an
      // error, else fiber.gen.next(owed.value). What it returns is `result`.
      result = this.todo(
        '02.1',
        `step(${fiber.task.name}): result = ${'error' in owed ? 'gen.throw(owed.error)' : 'gen.next(owed.value)'}`,
      ) as IteratorResult<Effect, unknown>;
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
      return;
    }
    const effect = result.value;
    if (effect === undefined) {
      // TODO(02.1): a bare `yield`: the coroutine lets the others run. Put it back in the run queue so that
      // every other ready coroutine runs before it again (round robin).
      this.todo('02.1', `step(${fiber.task.name}): a bare yield goes to the back of this.ready (makeReady)`);
    } else if (effect.kind === 'sleep') {
      this.sleepUntil(fiber, now() + effect.ms);
    } else if (effect.kind === 'wait') {
      this.park(fiber, effect.promise);
    } else {
      fiber.owed = { error: new TypeError(misuse(effect)) };
      this.makeReady(fiber);
    }
  }

  /** Parks a fiber until the promise settles, then queues it to resume with the value or the rejection. */
  private park(fiber: Fiber, promise: PromiseLike<unknown>): void {
    fiber.task.state = 'waiting';
    const parked = ++fiber.parks;
    const resume = (owed: Fiber['owed']) => this.wake(fiber, parked, owed);
    // TODO(02.3): when the promise settles, resume({ value }) if it fulfilled, resume({ error }) if it rejected.
    // (Promise.resolve(promise) turns any thenable into a real promise.)
    this.todo(
      '02.3',
      `park(${fiber.task.name}): Promise.resolve(${typeof promise}).then(value => ${resume.name}({ value }), error => ${resume.name}({ error }))`,
    );
  }

  private wake(fiber: Fiber, parked: number, owed: Fiber['owed']): void {
    // Cancelled (or finished) while it waited, maybe waiting on something else now: this answer is for nobody.
    if (fiber.task.state !== 'waiting' || fiber.parks !== parked) return;
    fiber.owed = owed;
    this.makeReady(fiber);
    this.queueTick();
  }

  /** Puts a fiber to sleep until `wakeAt`, keeping `sleepers` sorted by deadline. */
  private sleepUntil(fiber: Fiber, wakeAt: number): void {
    fiber.task.state = 'sleeping';
    fiber.wakeAt = wakeAt;
    // TODO(02.4): insert the fiber into `this.sleepers` so the list stays sorted by wakeAt, earliest first
    // (a sleeper with the same deadline as others goes after them).
    this.todo(
      '02.4',
      `sleepUntil(${fiber.task.name}, ${wakeAt}): insert into this.sleepers sorted by wakeAt`,
    );
  }

  /** Moves every sleeper due by `time` to the run queue, earliest deadline first. */
  private wakeSleepers(time: number): void {
    // TODO(02.4): while the first sleeper is due (wakeAt <= time), take it out and makeReady() it.
    if (this.sleepers.length > 0)
      this.todo('02.4', `wakeSleepers(${time}): makeReady() the sleepers due by now`);
  }

  // Don't change below this line: bookkeeping, the event-loop hooks and the stall detector.

  private makeReady(fiber: Fiber): void {
    fiber.task.state = 'ready';
    this.ready.push(fiber);
  }

  private finish(fiber: Fiber, outcome: { value: unknown } | { error: unknown }): void {
    fiber.task.state = 'done';
    this.fibers.delete(fiber.task.id);
    if ('error' in outcome) fiber.settle.reject(outcome.error);
    else fiber.settle.resolve(outcome.value);
    if (this.fibers.size === 0) for (const waiter of this.idleWaiters.splice(0)) waiter.resolve();
  }

  /** The next turn: at once (setImmediate, after I/O callbacks) when someone is ready, else at the next deadline. */
  private afterTick(): void {
    if (this.ready.length > 0) {
      this.queueTick();
      return;
    }
    const next = this.sleepers[0];
    if (next) this.armAlarm(next.wakeAt);
  }

  private queueTick(): void {
    if (this.tickQueued || this.broken !== undefined) return;
    this.tickQueued = true;
    setImmediate(() => this.tick());
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

  /** Stops the scheduler with a NotImplemented: the stubs of the lab call it. */
  protected todo(id: string, hint: string): never {
    this.broken = new NotImplemented(id, hint);
    throw this.broken;
  }
}

function isGenerator(value: unknown): value is Coroutine {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Coroutine).next === 'function' &&
    typeof (value as Coroutine).throw === 'function'
  );
}

/** Yielding the helper instead of delegating to it is the classic slip: say so at the yield. */
function misuse(effect: unknown): string {
  return isGenerator(effect)
    ? 'a coroutine yielded a generator: write `yield* sleep(ms)` / `yield* wait(p)`, with the star'
    : `a coroutine yielded ${JSON.stringify(effect)}: yield nothing, or yield* sleep(ms) / wait(promise) / join(task)`;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new UserError(`${name} must be a number > 0, got ${value}`);
  return value;
}
