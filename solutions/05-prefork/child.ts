/**
 * Lab 05 — what runs inside each prefork child (`pool.ts` forks them ahead of time and reuses them).
 *
 * Goal: a long-lived process that imports the tasks module once, then runs call after call sent over its IPC
 * channel, and exits when its parent is gone, even when the parent was killed with `kill -9` and never said so.
 *
 * Pass: `npm run check -- 05`, check 05.6: no child outlives its parent.
 *
 * Try this to break it: empty watchParent(), start `npx tsx mini-queue worker --pool prefork -c 2 --queue q5`,
 * enqueue `nap` tasks, `kill -9` the worker's pid, then `ps -ef | grep child.ts`: orphans, adopted by init.
 */
import { serveCalls } from '../../mini-queue/lane.ts';
import { runInline } from '../../mini-queue/pools/solo.ts';
import { startParentWatchdog } from '../../mini-queue/runtime/parent-watchdog.ts';
import { loadTasks } from '../../mini-queue/tasks.ts';

const tasksPath = process.argv[2] ?? '';
const lane = `pid-${process.pid}`;

function watchParent(): void {
  // (05.6) The IPC channel closes when the parent dies, however it died (the kernel closes its end of the
  // socket, even on kill -9): nobody can take our results any more, so stop instead of living on as an orphan.
  process.on('disconnect', () => process.exit(0));
}

// Don't change below this line: the tasks module is loaded once, then every call the parent sends runs here.
watchParent();
// For a task that blocks this thread, where no 'disconnect' can run: a watchdog thread (see its module).
startParentWatchdog();
const registry = await loadTasks(tasksPath);
serveCalls(async (call) => {
  const outcome = await runInline({ concurrency: 1, tasksPath, registry }, call, lane);
  return { type: 'done', id: call.id, outcome };
});
