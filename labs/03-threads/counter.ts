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
import { isMainThread, Worker, workerData } from 'node:worker_threads';
import { NotImplemented } from '../../mini-queue/errors.ts';
import { TS_THREAD_ENTRY, tsThreadData } from '../../mini-queue/runtime/typescript.ts';

/** Adds one to counter[0]: plain (racy) or atomic. */
export function bump(counter: Int32Array, atomic: boolean): void {
  if (atomic) {
    // TODO(03.7): add 1 to counter[0] as one indivisible step (the Atomics object has it).
    throw new NotImplemented(
      '03.7',
      `bump(): Atomics.add(counter, 0, 1) instead of counter[0]++ (now ${counter[0]})`,
    );
  } else {
    counter[0] = counter[0]! + 1;
  }
}

// Don't change below this line.

interface CounterData {
  role: 'counter';
  shared: SharedArrayBuffer;
  bumps: number;
  atomic: boolean;
}

/**
 * Starts `threads` threads that each bump one shared counter `bumps` times, all released at once, and returns
 * the final count. Exact: threads x bumps. Anything less is lost updates.
 */
export async function raceCounter(threads: number, bumps: number, atomic: boolean): Promise<number> {
  // [0] the counter, [1] the start gate, [2] how many threads wait at the gate.
  const shared = new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT);
  const cells = new Int32Array(shared);
  const workers = Array.from(
    { length: threads },
    () =>
      new Worker(TS_THREAD_ENTRY, {
        workerData: tsThreadData(import.meta.url, { role: 'counter', shared, bumps, atomic }),
      }),
  );
  let failed = false;
  const exited = workers.map(
    (worker) =>
      new Promise<void>((resolve, reject) => {
        worker.on('error', (error) => {
          failed = true;
          reject(error);
        });
        worker.on('exit', () => resolve());
      }),
  );
  // Open the gate only when every thread waits at it: threads start ~100 ms apart, longer than their loop.
  while (Atomics.load(cells, 2) < threads && !failed) await new Promise((resolve) => setTimeout(resolve, 5));
  Atomics.store(cells, 1, 1);
  Atomics.notify(cells, 1);
  try {
    await Promise.all(exited);
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  return Atomics.load(cells, 0);
}

if (!isMainThread && (workerData as Partial<CounterData>)?.role === 'counter') {
  const { shared, bumps, atomic } = workerData as CounterData;
  const cells = new Int32Array(shared);
  Atomics.add(cells, 2, 1);
  Atomics.wait(cells, 1, 0);
  for (let i = 0; i < bumps; i++) bump(cells, atomic);
}
