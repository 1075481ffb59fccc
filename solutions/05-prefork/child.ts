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
import { now } from '../../mini-queue/clock.ts';
import { errorMessage } from '../../mini-queue/errors.ts';
import type { TaskCall, TaskOutcome } from '../../mini-queue/pool.ts';
import { runInline } from '../../mini-queue/pools/solo.ts';
import { loadTasks } from '../../mini-queue/tasks.ts';

/** Parent → child: a task by name (its time limit stays with the parent, which can kill us). */
export type ToChild = Pick<TaskCall, 'id' | 'task' | 'args' | 'attempt'>;
/** Child → parent. */
export type FromChild = { type: 'ready' } | { type: 'done'; id: string; outcome: TaskOutcome };

const tasksPath = process.argv[2] ?? '';
const lane = `pid-${process.pid}`;

function watchParent(): void {
  // (05.6) The IPC channel closes when the parent dies, however it died (the kernel closes its end of the
  // socket, even on kill -9): nobody can take our results any more, so stop instead of living on as an orphan.
  process.on('disconnect', () => process.exit(0));
}

// Don't change below this line.

function send(message: FromChild): void {
  // A parent that is gone cannot be told; 'disconnect' ends us right after.
  if (process.connected) process.send?.(message);
}

watchParent();
const registry = await loadTasks(tasksPath);
process.on('message', (call: ToChild) => {
  runInline({ concurrency: 1, tasksPath, registry }, call, lane)
    .catch(
      (error): TaskOutcome => ({
        ok: false,
        error: { name: 'Error', message: errorMessage(error) },
        lane,
        startedAt: now(),
        finishedAt: now(),
      }),
    )
    .then((outcome) => {
      try {
        send({ type: 'done', id: call.id, outcome });
      } catch (problem) {
        const message = `the result cannot be sent to the parent: ${errorMessage(problem)}`;
        const { lane: where, startedAt, finishedAt } = outcome;
        const error = { name: 'DataCloneError', message };
        send({
          type: 'done',
          id: call.id,
          outcome: { ok: false, error, lane: where, startedAt, finishedAt },
        });
      }
    });
});
send({ type: 'ready' });
