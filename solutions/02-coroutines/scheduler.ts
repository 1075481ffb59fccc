/**
 * Lab 02 — green threads by hand: a cooperative scheduler on generator functions.
 *
 * Goal: what gevent and eventlet do for Celery's `-P gevent -c 1000`: many light "greenlets" on one thread, each
 * running until it yields, then the next one in line. A generator is a coroutine: `yield` suspends it with its
 * whole stack of locals, `next()` resumes it where it stopped. The effects a coroutine yields (`sleep`, `wait`)
 * are in mini-queue/coroutines.ts; the plumbing (spawn, timers, the stall detector) in mini-queue/scheduler-base.ts.
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
 * Try this to break it: in schedule(), put a coroutine that yielded at the *front* of the ready queue instead of
 * the back. Every coroutine now runs to completion before the next one starts: no interleaving at all.
 */
import { now } from '../../mini-queue/clock.ts';
import { Cancelled, type Coroutine, type Effect, type Task } from '../../mini-queue/coroutines.ts';
import { type Fiber, type Owed, SchedulerBase } from '../../mini-queue/scheduler-base.ts';

export class Scheduler extends SchedulerBase {
  /** One turn: wakes the sleepers that are due, then runs the ready coroutines in line, until the slice is over. */
  protected runTurn(sliceStart: number): void {
    for (;;) {
      this.wakeSleepers(now());
      const fiber = this.ready.shift();
      if (!fiber) return;
      this.step(fiber);
      if (this.sliceOver(sliceStart)) return;
    }
  }

  /** Continues a paused coroutine: `owed` is what its `yield` evaluates to, or the error raised there. */
  protected resume(gen: Coroutine, owed: Owed): IteratorResult<Effect, unknown> {
    // (02.1) next() sends the value in, throw() raises at the yield: both continue exactly where it stopped.
    return 'error' in owed ? gen.throw(owed.error) : gen.next(owed.value);
  }

  /** Files a coroutine by what it yielded: the run queue, the sleepers, or parked on a promise. */
  protected schedule(fiber: Fiber, effect: Effect): void {
    if (effect === undefined) {
      // (02.1) a bare yield goes to the back of the line: everyone else ready gets a turn first (round robin).
      this.makeReady(fiber);
    } else if (effect.kind === 'sleep') {
      this.sleepUntil(fiber, now() + effect.ms);
    } else {
      this.park(fiber, effect.promise);
    }
  }

  /** Is the time slice used up? Then the event loop gets a turn before the next coroutine runs. */
  private sliceOver(sliceStart: number): boolean {
    // (02.2) without this the run queue never empties while coroutines keep yielding, and nothing else on the
    // event loop (timers, sockets, the promises wait() parks on) runs until they all finish.
    return now() - sliceStart >= this.sliceMs;
  }

  /** Parks a fiber until the promise settles, then queues it to resume with the value or the rejection. */
  private park(fiber: Fiber, promise: PromiseLike<unknown>): void {
    const resume = this.parked(fiber);
    // (02.3) the callbacks only queue the fiber: it resumes on a scheduler turn, never inside a promise callback.
    Promise.resolve(promise).then(
      (value) => resume({ value }),
      (error) => resume({ error }),
    );
  }

  /** Puts a fiber to sleep until `wakeAt`, keeping `sleepers` sorted by deadline. */
  private sleepUntil(fiber: Fiber, wakeAt: number): void {
    fiber.task.state = 'sleeping';
    fiber.wakeAt = wakeAt;
    // (02.4) insert after every sleeper due no later: sorted by deadline, and equal deadlines keep their order.
    let at = this.sleepers.length;
    while (at > 0 && this.sleepers[at - 1]!.wakeAt > wakeAt) at--;
    this.sleepers.splice(at, 0, fiber);
  }

  /** Moves every sleeper due by `time` to the run queue, earliest deadline first. */
  private wakeSleepers(time: number): void {
    // (02.4) the list is sorted, so the due ones are a prefix: stop at the first that is not due.
    while (this.sleepers.length > 0 && this.sleepers[0]!.wakeAt <= time) {
      this.makeReady(this.sleepers.shift()!);
    }
  }

  /** Cancels a coroutine: `reason` is thrown at the yield where it stopped, so its `finally` blocks run. */
  cancel(task: Task, reason: unknown = new Cancelled(`${task.name} was cancelled`)): boolean {
    const fiber = this.fibers.get(task.id);
    if (!fiber || fiber.task.state === 'done') return false;
    // (02.5) throw at its yield point rather than drop it: only the generator itself can run its finally blocks.
    fiber.owed = { error: reason };
    if (fiber.task.state === 'sleeping') this.sleepers.splice(this.sleepers.indexOf(fiber), 1);
    // A waiting fiber's promise may still settle later: the wake-up call of parked() drops a late answer.
    if (fiber.task.state === 'sleeping' || fiber.task.state === 'waiting') this.makeReady(fiber);
    this.queueTick();
    return true;
  }
}
