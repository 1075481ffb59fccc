import type { ChildProcess } from 'node:child_process';
import { now } from './clock.ts';
import { errorMessage, NotImplemented, UserError } from './errors.ts';
import type { TaskCall, TaskOutcome } from './pool.ts';

/**
 * Slots: the concurrency limit of a pool that starts something new for every call (a child process per task) and
 * keeps no lane between calls. Read this first; lab 04's pool is built on it.
 *
 *   run(c1..c5) ─▶ waiting [c5 c4 c3] ─▶ start(slot) while fewer than `limit` calls hold a slot
 *                        ▲                         │ slot.settle(outcome): the first one counts
 *                        └──── the next call ◀─────┘ the slot is free at once; run(c1) resolves
 *
 * - `start(slot)` begins one call. If it throws (a TODO not done, a bug), the call fails with the error's message.
 * - `slot.settle(outcome)` ends the call, once: a time limit and the exit it causes both try, the first wins.
 *   `slot.fail(name, message)` settles a failure on `slot.lane`.
 * - `slot.guard(step)` runs an event handler of the call: a throw fails that call instead of crashing the worker.
 *   `slot.after(ms, step)` is a guarded timer, cleared when the call settles.
 * - `slot.hold(child)`: the call's child may outlive its settle (a killed child takes a few ms to go): `drain()`
 *   waits for its 'close', `stop()` kills it.
 * - `drain()` takes no more calls and resolves once nothing waits, runs or is held (a warm close). `stop()` fails
 *   the calls still waiting, SIGKILLs every child held, then drains (a cold one).
 */
export class Slots {
  private readonly waiting: Slot[] = [];
  private readonly running = new Set<Slot>();
  private readonly children = new Set<ChildProcess>();
  private closing = false;
  private idle: Array<() => void> = [];

  constructor(
    readonly limit: number,
    private readonly start: (slot: Slot) => void,
  ) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new UserError(`concurrency must be an integer >= 1, got ${limit}`);
    }
  }

  /** Resolves with the call's outcome once start() and its events have settled it; never rejects for a task. */
  run(call: TaskCall): Promise<TaskOutcome> {
    if (this.closing) return Promise.reject(new Error('the pool is closed: run() after close()'));
    return new Promise((resolve) => {
      const slot: Slot = new Slot(call, {
        settled: (outcome) => {
          this.running.delete(slot);
          resolve(outcome);
          this.next();
        },
        held: (child) => this.children.add(child),
        gone: (child) => {
          this.children.delete(child);
          this.next();
        },
      });
      this.waiting.push(slot);
      this.next();
    });
  }

  /** Warm close: no new calls; resolves once the calls given finished and their children are gone. */
  drain(): Promise<void> {
    this.closing = true;
    return new Promise((resolve) => {
      this.idle.push(resolve);
      this.next();
    });
  }

  /** Cold stop: the waiting calls fail now, every child held is SIGKILLed; resolves once they are gone. */
  stop(): Promise<void> {
    this.closing = true;
    for (const slot of this.waiting.splice(0)) slot.fail('PoolTerminated', 'the pool was terminated');
    for (const child of this.children) child.kill('SIGKILL');
    return this.drain();
  }

  /** Starts waiting calls while slots are free; resolves drain() once nothing is left. */
  private next(): void {
    while (this.waiting.length > 0 && this.running.size < this.limit) {
      const slot = this.waiting.shift()!;
      this.running.add(slot);
      slot.startedAt = now();
      slot.guard(() => this.start(slot));
    }
    if (this.waiting.length > 0 || this.running.size > 0 || this.children.size > 0) return;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}

/** One call holding a slot, from start() until its settle. */
export class Slot {
  /** The lane running the call, for the failures the slot makes: `main` until the pool names it (`pid-41`). */
  lane = 'main';
  /** When start() began it: a failure the slot makes (a time limit, a lost child) ran from then. */
  startedAt: number | undefined;
  private settled = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    readonly call: TaskCall,
    private readonly slots: {
      settled(outcome: TaskOutcome): void;
      held(child: ChildProcess): void;
      gone(child: ChildProcess): void;
    },
  ) {}

  /** Ends the call with `outcome` and frees the slot. Only the first settle counts; later ones are ignored. */
  settle(outcome: TaskOutcome): void {
    if (this.settled) return;
    this.settled = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.slots.settled(outcome);
  }

  /** Settles a failure (`name`: `WorkerLostError`, `TimeLimitExceeded`...) on this slot's lane, ending now. */
  fail(name: string, message: string): void {
    const at = now();
    this.settle({
      ok: false,
      error: { name, message },
      lane: this.lane,
      startedAt: this.startedAt ?? at,
      finishedAt: at,
    });
  }

  /** Runs `step` (an event handler of this call); a throw fails the call instead of crashing the worker. */
  guard(step: () => void): void {
    try {
      step();
    } catch (error) {
      this.fail(error instanceof NotImplemented ? 'NotImplemented' : 'Error', errorMessage(error));
    }
  }

  /** Runs `step`, guarded, after `ms`, unless the call settled first (a hard time limit). */
  after(ms: number, step: () => void): void {
    if (!this.settled) this.timers.push(setTimeout(() => this.guard(step), ms));
  }

  /** The call's child process: drain() waits until it is gone, stop() kills it. */
  hold(child: ChildProcess): void {
    this.slots.held(child);
    // 'close', not 'exit': it also waits for the child's stdio to end, so nothing of it is left behind.
    child.once('close', () => this.slots.gone(child));
  }
}
