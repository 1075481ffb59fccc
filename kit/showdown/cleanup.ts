/**
 * What lab 06's demo leaves behind while it runs (a worker process, queues in Redis) and how Ctrl-C undoes it.
 * Each part adds its undo to `cleanups` before it creates anything and deletes it once it has cleaned up itself.
 */
import { style } from '../ui/style.ts';

/** What to undo if the demo is interrupted: the worker process and the demo's queues in Redis. */
export const cleanups = new Set<() => Promise<unknown>>();

/** Ctrl-C: stop the worker (warm), delete the demo's queues, exit 130. Twice: Node's default, at once. */
export function onInterrupt(): void {
  process.once('SIGINT', () => {
    console.log(
      style.yellow('\nInterrupted: stopping the worker and deleting the demo queue (Ctrl-C again: now).'),
    );
    void Promise.allSettled([...cleanups].map((undo) => undo())).finally(() => process.exit(130));
  });
}
