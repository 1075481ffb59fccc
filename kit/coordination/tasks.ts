/**
 * Lab 07's tasks, for its demo and its check: chord members and a callback, a task with a rate limit and one
 * without, and what a beat enqueues. Each says what the run is judged by: its own clock and its process.
 */
import { writeFileSync } from 'node:fs';
import { defineTasks } from '../../mini-queue/tasks.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The one limit of this module, per task name, shared by every worker on the queue. */
export const LIMITED_RATE = '10/s';
/** The gap between two starts of `limited`, ms. */
export const LIMITED_INTERVAL_MS = 100;

/** True for the one caller, of any process, that creates `marker`; it writes its pid there (who stalls). */
function firstRun(marker: string): boolean {
  try {
    writeFileSync(marker, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    return false;
  }
}

export default defineTasks(
  {
    /**
     * A chord member: i², after `ms`. With a `stall` marker file, its first run (in whichever process) first
     * blocks its worker's event loop for `stallMs`: past the visibility timeout, its lease runs out and another
     * worker runs it too, so the member finishes, and joins, twice.
     */
    async square(i: number, ms = 0, stall?: string, stallMs = 0) {
      if (stall && stallMs > 0 && firstRun(stall)) {
        const end = Date.now() + stallMs;
        while (Date.now() < end) {}
      }
      await sleep(ms);
      return i * i;
    },
    /** A chord's callback: its results as they came, so a check can compare them all, in order. */
    collect(results: number[]) {
      return results;
    },
    /** Returns `value` at wall-clock time `at` (epoch ms): members on several workers that finish at one instant. */
    async until(at: number, value: unknown) {
      await sleep(Math.max(0, at - Date.now()));
      return value;
    },
    /** A member that fails. */
    boom(message = 'boom') {
      throw new Error(String(message));
    },
    /** Limited to LIMITED_RATE across the queue: when and where it started. */
    limited() {
      return { at: Date.now(), pid: process.pid };
    },
    /** No limit: it must not wait behind the limited ones. */
    free() {
      return { at: Date.now(), pid: process.pid };
    },
    /** What a beat enqueues at each tick. */
    tick() {
      return { at: Date.now(), pid: process.pid };
    },
  },
  { limited: { rateLimit: LIMITED_RATE } },
);
