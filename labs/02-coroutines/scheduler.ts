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
    // TODO(02.1): continue the generator where it stopped: raise owed's error at its yield when it holds one,
    // else send owed's value in. Return what the generator gives back.
    return this.todo(
      '02.1',
      'no coroutine ever runs: each stays paused before its first line, and its task never settles',
    );
  }

  /** Files a coroutine by what it yielded: the run queue, the sleepers, or parked on a promise. */
  protected schedule(fiber: Fiber, effect: Effect): void {
    if (effect === undefined) {
      // TODO(02.1): a bare `yield`: the coroutine lets the others run. Put it back in the run queue so that
      // every other ready coroutine runs before it again (round robin).
      this.todo(
        '02.1',
        'a coroutine that yields with nothing never gets another turn: round robin puts it back in line, behind the others',
      );
    } else if (effect.kind === 'sleep') {
      this.sleepUntil(fiber, now() + effect.ms);
    } else {
      this.park(fiber, effect.promise);
    }
  }

  /** Is the time slice used up? Then the event loop gets a turn before the next coroutine runs. */
  private sliceOver(sliceStart: number): boolean {
    // TODO(02.2): true once this turn has lasted the time slice or longer. Always false would keep the thread
    // while anyone is ready; always true is one coroutine step per event-loop turn.
    return this.todo(
      '02.2',
      'a turn of the scheduler never ends: it must hand the event loop back once its time slice is used up, or timers and sockets starve',
    );
  }

  /** Parks a fiber until the promise settles, then queues it to resume with the value or the rejection. */
  private park(fiber: Fiber, promise: PromiseLike<unknown>): void {
    const resume = this.parked(fiber);
    // TODO(02.3): when the promise settles, call the wake-up with what it fulfilled with, or with what it was
    // rejected with (as an error, so it is raised at the yield). Any thenable may come: make it a real promise.
    this.todo(
      '02.3',
      'a coroutine parked on I/O is never woken: once its I/O settles, it must go back in line with the outcome, or with the rejection raised where it paused',
    );
  }

  /** Puts a fiber to sleep until `wakeAt`, keeping `sleepers` sorted by deadline. */
  private sleepUntil(fiber: Fiber, wakeAt: number): void {
    fiber.task.state = 'sleeping';
    fiber.wakeAt = wakeAt;
    // TODO(02.4): insert the fiber into `sleepers` so the list stays sorted by deadline, earliest first
    // (a sleeper with the same deadline as others goes after them).
    this.todo(
      '02.4',
      'a coroutine that sleeps is never filed: it must take its place among the sleeping ones, in deadline order',
    );
  }

  /** Moves every sleeper due by `time` to the run queue, earliest deadline first. */
  private wakeSleepers(time: number): void {
    // TODO(02.4): while the first sleeper is due by `time`, take it out and put it back in the run queue.
    if (this.sleepers.length > 0)
      this.todo(
        '02.4',
        'sleeping coroutines never wake up: the ones whose deadline has come must go back in line, earliest first',
      );
  }

  /** Cancels a coroutine: `reason` is thrown at the yield where it stopped, so its `finally` blocks run. */
  cancel(task: Task, reason: unknown = new Cancelled(`${task.name} was cancelled`)): boolean {
    const fiber = this.fibers.get(task.id);
    if (!fiber || fiber.task.state === 'done') return false;
    // TODO(02.5): owe it `reason` as the error its next resume raises; take it out of the sleepers if it sleeps;
    // put it back in the run queue if it sleeps or waits; ask for a turn (queueTick) and say it was cancelled.
    return this.todo(
      '02.5',
      'a cancelled coroutine never hears of it: it must be woken with the cancellation raised where it paused, so its clean-up runs',
    );
  }
}
