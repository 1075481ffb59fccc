/**
 * The lane's end of a lane pool (`lane-pool.ts`): what runs inside each worker thread or prefork child. The pool
 * posts calls by name; the lane answers each one with exactly one `done` message carrying the call's id, and says
 * `ready` once it listens. It runs them one at a time, in the order they came: the pool may send the next call
 * while one runs (sent ahead), and an async task must not overlap it.
 *
 *   pool ──{id, task, args, attempt}──────────▶ lane: run(call)
 *        ◀──{type: 'done', id, outcome}──────── (a task that throws is an outcome; so is a run that throws)
 *        ◀──{type: 'ready'} once, first
 */
import { isMainThread, parentPort, threadId } from 'node:worker_threads';
import { now } from './clock.ts';
import { errorMessage } from './errors.ts';
import type { TaskCall, TaskOutcome } from './pool.ts';

/** Pool → lane: a task by name. Never code, and never its time limit: the pool enforces that (it can stop us). */
export type ToLane = Pick<TaskCall, 'id' | 'task' | 'args' | 'attempt'>;
/** Lane → pool: the outcome of one call, by id. */
export type Done = { type: 'done'; id: string; outcome: TaskOutcome };
export type FromLane = { type: 'ready' } | Done;

interface Channel {
  listen(listener: (call: ToLane) => void): void;
  send(message: FromLane): void;
}

/**
 * Serves the calls the pool sends to this thread or process with `run`, until the pool stops it. Call it last,
 * once the lane can run tasks: `ready` goes out from here, and the pool hands out nothing before.
 */
export function serveCalls(run: (call: ToLane) => Promise<Done>): void {
  const channel = toPool();
  const lane = isMainThread ? `pid-${process.pid}` : `thread-${threadId}`;
  const failed = (id: string, name: string, message: string): Done => {
    const at = now();
    return {
      type: 'done',
      id,
      outcome: { ok: false, error: { name, message }, lane, startedAt: at, finishedAt: at },
    };
  };
  const reply = (id: string, done: Done) => {
    try {
      channel.send(done);
    } catch (error) {
      // A value the structured clone cannot copy (a function, a socket) fails this task, not the lane.
      const message = `the result cannot be sent to the pool: ${errorMessage(error)}`;
      channel.send(failed(id, 'DataCloneError', message));
    }
  };
  const calls: ToLane[] = [];
  let running = false;
  const serve = async () => {
    running = true;
    try {
      for (let call = calls.shift(); call; call = calls.shift()) {
        let done: Done;
        try {
          done = await run(call);
        } catch (error) {
          done = failed(call.id, error instanceof Error ? error.name : 'Error', errorMessage(error));
        }
        // The outcome goes out before the next call begins: that one may run for long.
        reply(call.id, done);
      }
    } finally {
      running = false;
    }
  };
  channel.listen((call) => {
    calls.push(call);
    if (!running) void serve();
  });
  // Only now: a call posted before the lane could run it waits in the channel, and the pool counts from here.
  channel.send({ type: 'ready' });
}

function toPool(): Channel {
  const port = parentPort;
  if (!isMainThread && port) {
    return {
      listen: (listener) => port.on('message', listener),
      send: (message) => port.postMessage(message),
    };
  }
  if (process.send) {
    return {
      listen: (listener) => process.on('message', listener),
      // A parent that is gone cannot be told; its 'disconnect' reaches the child right after.
      send: (message) => {
        if (process.connected) process.send?.(message);
      },
    };
  }
  throw new Error('serveCalls() runs in a worker thread or in a child process forked with an IPC channel');
}
