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
import { type Done, serveCalls, type ToLane } from '../../mini-queue/lane.ts';
import { runInline } from '../../mini-queue/pools/solo.ts';
import { loadTasks } from '../../mini-queue/tasks.ts';

const { tasksPath } = workerData as { tasksPath: string };
const registry = await loadTasks(tasksPath);
const lane = `thread-${threadId}`;

async function onCall(call: ToLane): Promise<Done> {
  // (03.2) Run and time it here, in the lane: startedAt/finishedAt must be this thread's, not the main thread's.
  const outcome = await runInline({ concurrency: 1, tasksPath, registry }, call, lane);
  return { type: 'done', id: call.id, outcome };
}

// Don't change below this line: it answers every call the pool posts, and says `ready` once it listens.
serveCalls(onCall);
