/**
 * Lab 04 — what runs in each forked child: one task, then exit.
 *
 * Goal: a fresh Node process per task. It imports the tasks module (by path, from its argv), waits for its one
 * call on the IPC channel, runs it, sends the outcome back and exits. Whatever the task does to its process
 * (process.exit, an uncaught throw, a leak) dies with it.
 *
 * Pass: `npm run check -- 04`, checks named 04.2.
 *
 * Try this to break it: leave out the exit after sending. Each child then lives on after its task (the IPC
 * channel keeps it alive): `ps` fills up with idle node processes, and the pool never sees an 'exit'.
 */
import { now } from '../../mini-queue/clock.ts';
import { errorMessage } from '../../mini-queue/errors.ts';
import type { TaskCall, TaskOutcome } from '../../mini-queue/pool.ts';
import { runInline } from '../../mini-queue/pools/solo.ts';
import { loadTasks } from '../../mini-queue/tasks.ts';

/** Parent → child: the one call this process runs (its time limit stays with the parent, which can kill us). */
export type ToChild = Pick<TaskCall, 'id' | 'task' | 'args' | 'attempt'>;
/** Child → parent: the outcome. The exit that follows tells the parent the process is gone. */
export type FromChild = { type: 'done'; id: string; outcome: TaskOutcome };

const tasksPath = process.argv[2] ?? '';
const lane = `pid-${process.pid}`;

/** Runs the one call and reports it; `report` sends the outcome to the parent, then calls back. */
async function runOnce(call: ToChild, report: (message: FromChild) => Promise<void>): Promise<void> {
  const registry = await loadTasks(tasksPath);
  const outcome = await runInline({ concurrency: 1, tasksPath, registry }, call, lane);
  await report({ type: 'done', id: call.id, outcome });
  // (04.2) One task per process: exit once the outcome is out. Waiting for the send matters: exiting first
  // could cut the message off, and the parent would see an exit without a result.
  process.exit(0);
}

// Don't change below this line.

function report(message: FromChild): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send?.(message, undefined, {}, (error) => {
      if (!error) return resolve();
      // A value IPC cannot carry fails this task, not silently.
      const outcome: TaskOutcome = {
        ok: false,
        error: {
          name: 'DataCloneError',
          message: `the result cannot be sent to the parent: ${errorMessage(error)}`,
        },
        lane,
        startedAt: now(),
        finishedAt: now(),
      };
      process.send?.({ type: 'done', id: message.id, outcome }, undefined, {}, () => resolve());
    });
  });
}

// The parent is gone (killed, even by kill -9): nobody can take our result, so do not live on as an orphan.
process.on('disconnect', () => process.exit(0));
process.once('message', (call: ToChild) => {
  runOnce(call, report).catch((error) => {
    const at = now();
    const outcome: TaskOutcome = {
      ok: false,
      error: { name: 'Error', message: errorMessage(error) },
      lane,
      startedAt: at,
      finishedAt: at,
    };
    void report({ type: 'done', id: call.id, outcome }).then(() => process.exit(0));
  });
});
