/**
 * Lab 03 — what runs inside each worker thread (`pool.ts` starts them).
 *
 * Goal: a thread is a separate V8 isolate with its own event loop and its own copy of every module: it imports
 * the tasks module itself, by path, then runs each call it is sent and posts the outcome back by task id.
 *
 * Pass: `npm run check -- 03`, checks named 03.2.
 *
 * Try this to break it: drop the `await` before runInline(). The outcome is then a Promise, which cannot be
 * copied to another isolate: every task fails with DataCloneError. Threads share no objects, only messages.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { now } from '../../mini-queue/clock.ts';
import { errorMessage, NotImplemented } from '../../mini-queue/errors.ts';
import type { TaskCall, TaskOutcome } from '../../mini-queue/pool.ts';
import { runInline } from '../../mini-queue/pools/solo.ts';
import { loadTasks } from '../../mini-queue/tasks.ts';

/** Main thread → this thread: a task by name. Never code: the thread has its own copy of the tasks module. */
export type ToThread = Pick<TaskCall, 'id' | 'task' | 'args' | 'attempt'>;
/** This thread → main thread. */
export type FromThread = { type: 'ready' } | { type: 'done'; id: string; outcome: TaskOutcome };

const { tasksPath } = workerData as { tasksPath: string };
const registry = await loadTasks(tasksPath);
const lane = `thread-${threadId}`;

async function onCall(call: ToThread): Promise<FromThread> {
  // TODO(03.2): run the call here, in this thread, and return { type: 'done', id, outcome }. runInline() (the
  // solo pool's helper) runs a task of `registry`, catches its error and times it where it runs.
  throw new NotImplemented(
    '03.2',
    `onCall(): ${runInline.name}({ concurrency: 1, tasksPath, registry }, call, '${lane}') for ${call.task} (${Object.keys(registry).length} tasks loaded)`,
  );
}

// Don't change below this line.
const port = parentPort!;
port.on('message', (call: ToThread) => {
  onCall(call)
    .catch(
      (error): FromThread => ({
        type: 'done',
        id: call.id,
        outcome: { ok: false, error: { name: 'Error', message: errorMessage(error) }, lane, ...at() },
      }),
    )
    .then((reply) => {
      try {
        port.postMessage(reply);
      } catch (error) {
        // A value the structured clone cannot copy (a function, a socket) fails this task, not the thread.
        const message = `the result cannot be sent to the main thread: ${errorMessage(error)}`;
        port.postMessage({
          type: 'done',
          id: call.id,
          outcome: { ok: false, error: { name: 'DataCloneError', message }, lane, ...at() },
        } satisfies FromThread);
      }
    });
});
// Only now: a call posted before this thread could run it waits in the port, and the pool counts from here.
port.postMessage({ type: 'ready' } satisfies FromThread);

function at(): { startedAt: number; finishedAt: number } {
  const t = now();
  return { startedAt: t, finishedAt: t };
}
