import { now } from '../clock.ts';
import { errorMessage } from '../errors.ts';
import type { Pool, PoolObserver, PoolOptions, TaskCall, TaskOutcome } from '../pool.ts';
import { invokeTask } from '../tasks.ts';
import { inlineRunEntered, inlineRunLeft } from '../watchdog/inline-runs.ts';

/**
 * Celery's `-P solo`: one task at a time, inline, on the worker's own thread. The baseline every other pool is
 * measured against. `concurrency` is ignored on purpose: solo means one.
 */
export function createSoloPool(options: PoolOptions): Pool {
  let tail: Promise<unknown> = Promise.resolve();
  let running: { call: TaskCall; since: number } | undefined;
  let observer: PoolObserver | undefined;
  const runOne = async (call: TaskCall): Promise<TaskOutcome> => {
    running = { call, since: now() };
    observer?.began(call, 'main', running.since);
    try {
      return await runInline(options, call);
    } finally {
      running = undefined;
    }
  };
  return {
    kind: 'solo',
    concurrency: 1,
    run(call: TaskCall): Promise<TaskOutcome> {
      // Chain on the previous run: the next task starts only when the last one settled.
      const result = tail.then(() => runOne(call));
      tail = result;
      return result;
    },
    laneStates() {
      const run = running;
      return [
        run
          ? { name: 'main', running: { id: run.call.id, task: run.call.task, since: run.since } }
          : { name: 'main' },
      ];
    },
    observe(next) {
      observer = next;
    },
    async close() {
      await tail;
    },
  };
}

/** Runs one task on this thread and times it. Shared by the in-process pools. */
export async function runInline(options: PoolOptions, call: TaskCall, lane = 'main'): Promise<TaskOutcome> {
  const startedAt = now();
  // No time limit, no race: every task's path in a busy worker, so it allocates nothing more (its signal, which
  // nothing aborts, is made only if the task reads it).
  if (call.timeout === undefined) {
    return outcomeOf(invokeTask(options.registry, call), lane, startedAt);
  }
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  // On one thread a time limit can only abort what awaits: the signal tells the task, and the race stops us
  // waiting for it. A synchronous loop cannot be interrupted here; threads and processes can be killed.
  const timeUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`time limit of ${call.timeout} ms exceeded`);
      error.name = 'TimeLimitExceeded';
      controller.abort(error);
      reject(error);
    }, call.timeout);
  });
  // A synchronous loop is left to the worker's watchdog thread (mini-queue/watchdog/): it is told when this
  // task's synchronous part runs, so it can name the task that blocks the thread.
  inlineRunEntered(call, lane, startedAt);
  let running: Promise<unknown>;
  try {
    running = invokeTask(options.registry, call, controller.signal);
  } finally {
    inlineRunLeft(call);
  }
  try {
    return await outcomeOf(Promise.race([running, timeUp]), lane, startedAt);
  } finally {
    clearTimeout(timer);
  }
}

/** A task's value or exception as an outcome, finished now. */
async function outcomeOf(running: Promise<unknown>, lane: string, startedAt: number): Promise<TaskOutcome> {
  try {
    const value = await running;
    return { ok: true, value, lane, startedAt, finishedAt: now() };
  } catch (error) {
    const name = error instanceof Error ? error.name : 'Error';
    return { ok: false, error: { name, message: errorMessage(error) }, lane, startedAt, finishedAt: now() };
  }
}
