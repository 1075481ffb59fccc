/**
 * What lab 06's demo leaves behind while it runs (a worker process, queues in Redis) and how Ctrl-C undoes it.
 * Each part adds its undo to `cleanups` before it creates anything and deletes it once it has cleaned up itself.
 * The queues are throw-aways besides (kit/throwaway.ts): Ctrl-C or SIGTERM drops them after these undos, and a
 * TTL covers a kill -9.
 */
import { onInterrupt as beforeDrop } from '../throwaway.ts';
import { style } from '../ui/style.ts';

/** What to undo if the demo is interrupted: the worker process and the demo's queues in Redis. */
export const cleanups = new Set<() => Promise<unknown>>();

/** Ctrl-C or SIGTERM: stop the worker (warm), delete the demo's queues, exit. Twice: at once. */
export function onInterrupt(): void {
  beforeDrop(async () => {
    console.log(
      style.yellow('\nInterrupted: stopping the worker and deleting the demo queue (Ctrl-C again: now).'),
    );
    await Promise.allSettled([...cleanups].map((undo) => undo()));
  });
}
