/**
 * Lab 03 side exercise — shared memory: the one thing threads share that processes do not.
 *
 * Goal: N threads bump one counter in a SharedArrayBuffer. `counter[0]++` is three steps (read, add, write): two
 * threads that read the same value both write value + 1, and one bump is lost. Atomics.add does the three as one
 * indivisible step.
 *
 * Pass: the demo's atomic count equals threads x bumps exactly (the plain one usually falls short);
 * `npm run check -- 03`, check 03.7.
 *
 * Try this to break it: run the demo with `--workers 1`: one thread cannot race itself, and the plain count is
 * exact too. A race needs two threads running at the same time.
 */
import { raceThreads } from '../../mini-queue/runtime/shared-counter.ts';

/** Adds one to counter[0]: plain (racy) or atomic. */
export function bump(counter: Int32Array, atomic: boolean): void {
  if (atomic) {
    // (03.7) Read, add and write as one step, so no other thread's bump lands in between and gets overwritten.
    Atomics.add(counter, 0, 1);
  } else {
    counter[0] = counter[0]! + 1;
  }
}

// Don't change below this line.

/** `threads` threads bump one shared counter `bumps` times each, released at once; resolves the final count. */
export function raceCounter(threads: number, bumps: number, atomic: boolean): Promise<number> {
  return raceThreads(import.meta.url, threads, bumps, atomic);
}
