/**
 * Lab 02 — the `coroutines` pool: Celery's `-P gevent` / `-P eventlet -c 1000`, on your scheduler.
 *
 * Goal: every task runs as a coroutine ("greenlet") of one Scheduler, at most C at once, the rest waiting in
 * line. A generator task (`function*`) runs cooperatively: it shares the thread at every `yield`, sleeps with
 * `yield* sleep(ms)`, does I/O with `yield* wait(promise)`, and a time limit cancels it at its next yield, running
 * its `finally` blocks. Ordinary async and sync tasks work too: a promise is waited on, a value is the result.
 *
 * Pass: the last part of `npx tsx labs/02-coroutines` drains 300 I/O tasks through your pool behind a real
 * worker, and `npm run check -- 02` passes.
 *
 * Try this to break it: enqueue `fib '[35]'` beside `sleep '[10]'` tasks and watch the sleeps finish late: fib
 * never yields, so no other greenlet runs until it returns. Concurrency, not parallelism.
 */
import { now } from '../../mini-queue/clock.ts';
import { errorMessage, NotImplemented, UserError } from '../../mini-queue/errors.ts';
import type { Pool, PoolOptions, TaskCall, TaskOutcome } from '../../mini-queue/pool.ts';
import { lookupTask, type TaskContext, unknownTaskMessage } from '../../mini-queue/tasks.ts';
import { type Coroutine, Scheduler, wait } from './scheduler.ts';

/** Runs one task call as a coroutine and turns whatever happens into an outcome timed in its lane. */
export function* runCall(
  options: PoolOptions,
  call: TaskCall,
  lane: string,
  signal: AbortSignal,
): Coroutine<TaskOutcome> {
  const startedAt = now();
  try {
    const fn = lookupTask(options.registry, call.task);
    if (!fn) throw new Error(unknownTaskMessage(call.task, options.registry));
    const context: TaskContext = { id: call.id, attempt: call.attempt, signal };
    // Calling a generator function runs none of its body yet: it only makes the coroutine.
    const returned = fn.apply(context, call.args);
    // (02.6) delegate to a generator task so its yields reach the scheduler; wait on a promise (cooperative I/O).
    const value = isCoroutine(returned)
      ? yield* returned
      : isPromiseLike(returned)
        ? yield* wait(returned)
        : returned;
    return { ok: true, value, lane, startedAt, finishedAt: now() };
  } catch (error) {
    // A stub of this lab is not a task failure: let it reach the worker, which stops and names the TODO.
    if (error instanceof NotImplemented) throw error;
    const name = error instanceof Error ? error.name : 'Error';
    return { ok: false, error: { name, message: errorMessage(error) }, lane, startedAt, finishedAt: now() };
  }
}

// Don't change below this line: the pool around runCall (lab 01's slots and line, with coroutines as lanes).

export function createPool(options: PoolOptions): Pool {
  const { concurrency } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new UserError(`coroutines pool: concurrency must be an integer >= 1, got ${concurrency}`);
  }
  const scheduler = new Scheduler();
  /** Free lane numbers, lowest first, so a timeline shows coroutine-1..C. */
  const free = Array.from({ length: concurrency }, (_, i) => i + 1);
  const waiting: Array<{ call: TaskCall; settle: (outcome: Promise<TaskOutcome>) => void }> = [];
  const pending = new Set<Promise<TaskOutcome>>();

  function startWaiting(): void {
    while (free.length > 0 && waiting.length > 0) {
      const lane = free.shift()!;
      const { call, settle } = waiting.shift()!;
      const controller = new AbortController();
      const task = scheduler.spawn(
        runCall(options, call, `coroutine-${lane}`, controller.signal),
        `${call.task}#${call.id}`,
      );
      // A time limit cancels at the next yield: the task's finally blocks run (a sync loop still can't be stopped).
      const timer =
        call.timeout === undefined
          ? undefined
          : setTimeout(() => {
              const error = new Error(`time limit of ${call.timeout} ms exceeded`);
              error.name = 'TimeLimitExceeded';
              controller.abort(error);
              scheduler.cancel(task, error);
            }, call.timeout);
      settle(task.result);
      const release = () => {
        clearTimeout(timer);
        free.push(lane);
        free.sort((a, b) => a - b);
        startWaiting();
      };
      task.result.then(release, release);
    }
  }

  return {
    kind: 'coroutines',
    concurrency,
    run(call: TaskCall): Promise<TaskOutcome> {
      const result = new Promise<TaskOutcome>((resolve) => {
        waiting.push({ call, settle: resolve });
      });
      startWaiting();
      pending.add(result);
      const forget = () => pending.delete(result);
      result.then(forget, forget);
      return result;
    },
    async close(): Promise<void> {
      await Promise.allSettled([...pending]);
    },
  };
}

function isCoroutine(value: unknown): value is Coroutine {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Coroutine).next === 'function' &&
    typeof (value as Coroutine).throw === 'function' &&
    Symbol.iterator in value
  );
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}
