import type { ChildProcess } from 'node:child_process';
import { now } from '../clock.ts';
import { errorMessage } from '../errors.ts';
import type { TaskCall, TaskOutcome } from '../pool.ts';

/**
 * The IPC between a pool and a child process it forked for one call (lab 04): what travels each way, and what
 * each end needs around it. Messages are copied, never shared: with `serialization: 'advanced'` they go through
 * the V8 serializer (structured clone), so a Map or a BigInt survives and a function does not.
 *
 *   pool ──ToChild {id, task, args, attempt}──────▶ child   (the time limit stays with the pool, which can kill)
 *   pool ◀──FromChild {type: 'done', id, outcome}── child   (then the child's exit: a code or a signal)
 */

/** Pool → child: a task by name, never code. */
export type ToChild = Pick<TaskCall, 'id' | 'task' | 'args' | 'attempt'>;
/** Child → pool: the outcome. The exit that follows tells the pool the process is gone. */
export type FromChild = { type: 'done'; id: string; outcome: TaskOutcome };

/** What the pool sends a child for a call. */
export function toChild(call: TaskCall): ToChild {
  return { id: call.id, task: call.task, args: call.args, attempt: call.attempt };
}

/**
 * In the child: sends to the pool and resolves once the message is out (exiting before would cut it off). A value
 * IPC cannot carry fails the task, as a DataCloneError, rather than silently; a pool already gone resolves at once.
 */
export function sendToParent(message: FromChild): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send?.(message, undefined, {}, (error) => {
      if (!error) return resolve();
      const { lane, startedAt, finishedAt } = message.outcome;
      const reason = `the result cannot be sent to the parent: ${errorMessage(error)}`;
      const outcome: TaskOutcome = {
        ok: false,
        error: { name: 'DataCloneError', message: reason },
        lane,
        startedAt,
        finishedAt,
      };
      process.send?.({ type: 'done', id: message.id, outcome }, undefined, {}, () => resolve());
    });
  });
}

/** In the child: an error outside the task itself (a TODO not done, a bug in the child) as the call's outcome. */
export function failedOutcome(error: unknown, lane: string): TaskOutcome {
  const at = now();
  return {
    ok: false,
    error: { name: 'Error', message: errorMessage(error) },
    lane,
    startedAt: at,
    finishedAt: at,
  };
}

/**
 * In the pool: keeps the end of a child's stderr (piped) and any 'error' it emits (a failed spawn or send, which
 * would otherwise crash the pool). Returns the last line that names an error, e.g. `Error: boom in a timer`: why
 * the child died, in its own words. Complete once the child's 'close' has fired.
 */
export function watchLastError(child: ChildProcess): () => string | undefined {
  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4096);
  });
  child.on('error', (error) => {
    tail += `\n${errorMessage(error)}`;
  });
  return () =>
    tail
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => /^\w*Error\b|^Error:/.test(line))
      .at(-1);
}
