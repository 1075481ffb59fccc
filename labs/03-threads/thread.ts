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
import { threadId, workerData } from 'node:worker_threads';
import { NotImplemented } from '../../mini-queue/errors.ts';
import { type Done, serveCalls, type ToLane } from '../../mini-queue/lane.ts';
import { runInline } from '../../mini-queue/pools/solo.ts';
import { loadTasks } from '../../mini-queue/tasks.ts';

const { tasksPath } = workerData as { tasksPath: string };
const registry = await loadTasks(tasksPath);
const lane = `thread-${threadId}`;

async function onCall(call: ToLane): Promise<Done> {
  // TODO(03.2): run the call here, in this thread, and return { type: 'done', id, outcome }. runInline() (the
  // solo pool's helper) runs a task of `registry`, catches its error and times it where it runs.
  throw new NotImplemented(
    '03.2',
    'each thread gets its tasks but runs none of them, so every task comes back failed',
  );
}

// Don't change below this line: it answers every call the pool posts, and says `ready` once it listens.
serveCalls(onCall);
