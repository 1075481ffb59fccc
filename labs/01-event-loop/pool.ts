/**
 * Lab 01 — the event-loop pool: concurrency on one thread.
 *
 * Goal: run up to C tasks at once on the worker's own thread. An async task that awaits a socket gives the thread
 * back to the event loop, so C slow requests wait side by side instead of one after the other (Celery's
 * `-P solo` runs one; asyncio-style concurrency runs C). Calls beyond C wait in a FIFO inside the pool.
 *
 * Pass: `npx tsx labs/01-event-loop` shows I/O-bound throughput growing with C (up to C times that of C = 1), and
 * `npm run check -- 01` passes (never more than C in flight, first come first served, close waits).
 *
 * Try this to break it: in acquire(), write `running <= concurrency`. Nothing crashes, the demo still passes;
 * `npm run check -- 01` counts C + 1 tasks in flight, from the tasks' own clocks.
 */
import { NotImplemented, UserError } from '../../mini-queue/errors.ts';
import type { Pool, PoolOptions, TaskCall, TaskOutcome } from '../../mini-queue/pool.ts';
import { runInline } from '../../mini-queue/pools/solo.ts';

export function createPool(options: PoolOptions): Pool {
  const { concurrency } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new UserError(`event-loop pool: concurrency must be an integer >= 1, got ${concurrency}`);
  }
  /** How many calls hold a slot (run their task) right now. */
  let running = 0;
  /** Calls waiting for a slot, oldest first: each entry starts one of them. */
  const waiting: Array<() => void> = [];
  /** Every call given and not settled yet, running or waiting: what close() waits for. */
  const pending = new Set<Promise<TaskOutcome>>();

  /** Resolves when this call may run: at once while a slot is free, else when a finishing call hands its slot over. */
  async function acquire(): Promise<void> {
    // TODO(01.1): if fewer than `concurrency` calls are running, take a slot (count it in `running`) and return
    // at once. Otherwise wait in line: leave in `waiting` a way to start this call, for release() to use.
    throw new NotImplemented(
      '01.1',
      'no call ever gets a slot: a call must start at once while fewer than C are in flight, and queue up behind the others when every slot is taken',
    );
  }

  /** A call finished: its slot goes to the oldest waiting call, or becomes free. */
  function release(): void {
    // TODO(01.2): if a call is waiting, start the oldest one (first in, first out) and let it have this slot;
    // otherwise free the slot.
    throw new NotImplemented(
      '01.2',
      'a finished call never gives its slot back: the oldest call in line must take it over, or the slot must become free',
    );
  }

  async function runWithSlot(call: TaskCall): Promise<TaskOutcome> {
    await acquire();
    try {
      // runInline never rejects for a task's failure (it becomes an outcome), so one exception fails one task.
      return await runInline(options, call, 'main');
    } finally {
      release();
    }
  }

  return {
    kind: 'event-loop',
    concurrency,
    run(call: TaskCall): Promise<TaskOutcome> {
      const result = runWithSlot(call);
      pending.add(result);
      const forget = () => pending.delete(result);
      result.then(forget, forget);
      return result;
    },
    async close(): Promise<void> {
      // TODO(01.3): wait until every call given so far has settled, the running ones and the waiting ones.
      throw new NotImplemented(
        '01.3',
        'closing the pool does not wait for anything: a warm shutdown must let every call it was given finish first, the running ones and those still in line',
      );
    },
  };
}
