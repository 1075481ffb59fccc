import { now } from '../clock.ts';
import type { Coroutine, CoroutineScheduler } from '../coroutines.ts';
import { errorMessage, NotImplemented, UserError } from '../errors.ts';
import type { Pool, PoolLane, PoolObserver, PoolOptions, TaskCall, TaskOutcome } from '../pool.ts';
import { lookupTask, type TaskContext, unknownTaskMessage } from '../tasks.ts';
import { inlineRunEntered, inlineRunLeft } from '../watchdog/inline-runs.ts';

/**
 * Everything of the `coroutines` pool (Celery's `-P gevent -c C`) that is not lab 02's lesson: every task call
 * runs as one coroutine of a scheduler, at most C at once, the rest waiting in line (lab 01's slots and line,
 * with a coroutine per call as its lane); a time limit cancels the call at its next yield. Lab 02 subclasses it
 * with `runTask`: how what a task function returned (a generator, a promise, a value) becomes the task's value.
 */
export abstract class CoroutinePoolBase implements Pool {
  readonly kind = 'coroutines';
  readonly concurrency: number;
  /** Free lane numbers, lowest first, so a timeline shows coroutine-1..C. */
  private readonly free: number[];
  private readonly waiting: Array<{ call: TaskCall; settle: (outcome: Promise<TaskOutcome>) => void }> = [];
  private readonly pending = new Set<Promise<TaskOutcome>>();
  /** Lane number → the call it runs and since when, for the worker's heartbeat (Pool.laneStates). */
  private readonly running = new Map<number, { call: TaskCall; since: number }>();
  private observer: PoolObserver | undefined;

  constructor(
    private readonly options: PoolOptions,
    private readonly scheduler: CoroutineScheduler,
  ) {
    const { concurrency } = options;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new UserError(`coroutines pool: concurrency must be an integer >= 1, got ${concurrency}`);
    }
    this.concurrency = concurrency;
    this.free = Array.from({ length: concurrency }, (_, i) => i + 1);
  }

  /** Runs what the task function returned, inside the call's coroutine, to the task's value. */
  protected abstract runTask(returned: unknown): Coroutine<unknown>;

  run(call: TaskCall): Promise<TaskOutcome> {
    const result = new Promise<TaskOutcome>((resolve) => {
      this.waiting.push({ call, settle: resolve });
    });
    this.startWaiting();
    this.pending.add(result);
    const forget = () => this.pending.delete(result);
    result.then(forget, forget);
    return result;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  laneStates(): PoolLane[] {
    return Array.from({ length: this.concurrency }, (_, i) => {
      const run = this.running.get(i + 1);
      const name = `coroutine-${i + 1}`;
      return run ? { name, running: { id: run.call.id, task: run.call.task, since: run.since } } : { name };
    });
  }

  observe(observer: PoolObserver): void {
    this.observer = observer;
  }

  /** A lab stub: throws the guidance for a TODO that is not done yet. */
  protected todo(id: string, hint: string): never {
    throw new NotImplemented(id, hint);
  }

  private startWaiting(): void {
    while (this.free.length > 0 && this.waiting.length > 0) {
      const lane = this.free.shift()!;
      const { call, settle } = this.waiting.shift()!;
      const since = now();
      this.running.set(lane, { call, since });
      this.observer?.began(call, `coroutine-${lane}`, since);
      const controller = new AbortController();
      const task = this.scheduler.spawn(
        this.runCall(call, `coroutine-${lane}`, controller.signal),
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
              this.scheduler.cancel(task, error);
            }, call.timeout);
      settle(task.result);
      const release = () => {
        clearTimeout(timer);
        this.running.delete(lane);
        this.free.push(lane);
        this.free.sort((a, b) => a - b);
        this.startWaiting();
      };
      task.result.then(release, release);
    }
  }

  /** Runs one task call as a coroutine and turns whatever happens into an outcome timed in its lane. */
  private *runCall(call: TaskCall, lane: string, signal: AbortSignal): Coroutine<TaskOutcome> {
    const startedAt = now();
    try {
      const fn = lookupTask(this.options.registry, call.task);
      if (!fn) throw new Error(unknownTaskMessage(call.task, this.options.registry));
      const context: TaskContext = { id: call.id, attempt: call.attempt, signal };
      // A loop that never yields is left to the worker's watchdog thread (mini-queue/watchdog/), told here when
      // the task function's own synchronous part runs (a generator task's body runs later, in runTask).
      let returned: unknown;
      if (call.timeout === undefined) returned = fn.apply(context, call.args);
      else {
        inlineRunEntered(call, lane, startedAt);
        try {
          returned = fn.apply(context, call.args);
        } finally {
          inlineRunLeft(call);
        }
      }
      const value = yield* this.runTask(returned);
      return { ok: true, value, lane, startedAt, finishedAt: now() };
    } catch (error) {
      // A stub of the lab is not a task failure: let it reach the worker, which stops and names the TODO.
      if (error instanceof NotImplemented) throw error;
      const name = error instanceof Error ? error.name : 'Error';
      return { ok: false, error: { name, message: errorMessage(error) }, lane, startedAt, finishedAt: now() };
    }
  }
}
