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
import { runInline } from '../../mini-queue/pools/solo.ts';
import { failedOutcome, sendToParent, type ToChild } from '../../mini-queue/runtime/child-ipc.ts';
import { startParentWatchdog } from '../../mini-queue/runtime/parent-watchdog.ts';
import { loadTasks } from '../../mini-queue/tasks.ts';

const tasksPath = process.argv[2] ?? '';
const lane = `pid-${process.pid}`;

/** Runs the one call this process was forked for, and reports it to the pool. */
async function runOnce(call: ToChild): Promise<void> {
  const registry = await loadTasks(tasksPath);
  const outcome = await runInline({ concurrency: 1, tasksPath, registry }, call, lane);
  await sendToParent({ type: 'done', id: call.id, outcome });
  // (04.2) One task per process: exit once the outcome is out. Waiting for the send matters: exiting first
  // could cut the message off, and the parent would see an exit without a result.
  process.exit(0);
}

// Don't change below this line.

// The parent is gone (killed, even by kill -9): nobody can take our result, so do not live on as an orphan.
// 'disconnect' needs a free event loop; the watchdog thread covers a task that blocks it (see its module).
process.on('disconnect', () => process.exit(0));
startParentWatchdog();
process.once('message', (call: ToChild) => {
  runOnce(call).catch(async (error) => {
    await sendToParent({ type: 'done', id: call.id, outcome: failedOutcome(error, lane) });
    process.exit(0);
  });
});
