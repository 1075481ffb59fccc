/**
 * Lab 02 — the `coroutines` pool: Celery's `-P gevent` / `-P eventlet -c 1000`, on your scheduler.
 *
 * Goal: every task runs as a coroutine ("greenlet") of one Scheduler, at most C at once, the rest waiting in
 * line (the line, the lanes and the time limits are in mini-queue/pools/coroutine-pool.ts). A generator task
 * (`function*`) runs cooperatively: it shares the thread at every `yield`, sleeps with `yield* sleep(ms)`, does
 * I/O with `yield* wait(promise)`, and a time limit cancels it at its next yield, running its `finally` blocks.
 * Ordinary async and sync tasks work too: a promise is waited on, a value is the result.
 *
 * Pass: the last part of `npx tsx labs/02-coroutines` drains 300 I/O tasks through your pool behind a real
 * worker, and `npm run check -- 02` passes.
 *
 * Try this to break it: enqueue `fib '[35]'` beside `sleep '[10]'` tasks and watch the sleeps finish late: fib
 * never yields, so no other greenlet runs until it returns. Concurrency, not parallelism.
 */
import { type Coroutine, isCoroutine, isPromiseLike, wait } from '../../mini-queue/coroutines.ts';
import type { Pool, PoolOptions } from '../../mini-queue/pool.ts';
import { CoroutinePoolBase } from '../../mini-queue/pools/coroutine-pool.ts';
import { Scheduler } from './scheduler.ts';

class CoroutinePool extends CoroutinePoolBase {
  /**
   * `returned` is what the task function returned. Calling a generator function runs none of its body yet: it
   * only makes the coroutine, so a generator task's work has not started when it gets here.
   */
  protected *runTask(returned: unknown): Coroutine<unknown> {
    // TODO(02.6): the task's value. A generator task: run it inside this coroutine, so its yields reach the
    // scheduler and its return value comes back here. A promise: park this coroutine on it. Anything else is
    // the value itself.
    return this.todo(
      '02.6',
      "a task call never runs its task: a generator task must run inside the call's own coroutine, and an async one must be awaited cooperatively",
    );
  }
}

export function createPool(options: PoolOptions): Pool {
  return new CoroutinePool(options, new Scheduler());
}
