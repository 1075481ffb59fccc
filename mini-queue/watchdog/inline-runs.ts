import type { TaskCall } from '../pool.ts';

/**
 * What the pools that run tasks on the worker's own thread (solo, event-loop, coroutines) tell whoever watches
 * that thread (the worker's watchdog, see ./client.ts). A time limit there is a timer on the same thread, so a
 * task that never yields (`for (;;) {}`) silences it: only another thread can notice, and only if it knows which
 * calls run here and since when.
 *
 * Only calls with a time limit are reported: a call without one may run as long as it likes, and the path of
 * every untimed task in a busy worker stays as it was.
 */
export interface InlineRunObserver {
  /** A call's task starts on this thread; its synchronous part (the task function's body up to its first await) runs next. */
  enter(call: TaskCall, lane: string, startedAt: number): void;
  /** The task function has returned (a value or a promise): its synchronous part is over. */
  leave(call: TaskCall): void;
}

const observers = new Set<InlineRunObserver>();

/** Tells `observer` of every timed call run on this thread from now on; returns the function that stops that. */
export function observeInlineRuns(observer: InlineRunObserver): () => void {
  observers.add(observer);
  return () => {
    observers.delete(observer);
  };
}

export function inlineRunEntered(call: TaskCall, lane: string, startedAt: number): void {
  for (const observer of observers) observer.enter(call, lane, startedAt);
}

export function inlineRunLeft(call: TaskCall): void {
  for (const observer of observers) observer.leave(call);
}
