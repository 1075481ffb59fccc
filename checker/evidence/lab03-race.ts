/**
 * Lab 03's counter race, run so that the race cannot hide: N threads call the lab's `bump(counter, atomic)` on one
 * shared counter, released at the same moment, for a fixed time (not a fixed count, which a fast thread can
 * finish before the next one wakes). Each thread counts its own bumps and notes when its loop ran. The counter
 * must end at the sum of their counts; their loops' intervals show they really ran at the same time.
 *
 *   raceFor(counterModule, threads, ms, [false, true, true])  →  per window { counted, final, lost, togetherMs }
 */
import { isMainThread, Worker, workerData } from 'node:worker_threads';
import { now } from '../../mini-queue/clock.ts';
import { TS_THREAD_ENTRY, tsThreadData } from '../../mini-queue/runtime/typescript.ts';

interface RaceData {
  role: 'lab03-race';
  /** The lab's counter.ts (its `bump` export). */
  counterModule: string;
  /** Per window w: [4w] the counter, [4w+1] the start gate, [4w+2] threads at the gate, [4w+3] stop. */
  cells: SharedArrayBuffer;
  /** Per window w and thread i: [k] its bumps, [k+1] its loop's start, [k+2] its end; k = 3(w·threads + i). */
  notes: SharedArrayBuffer;
  index: number;
  threads: number;
  /** One window per entry: bump atomically or not. */
  windows: boolean[];
}

export interface RaceResult {
  atomic: boolean;
  /** Bumps the threads made, by their own count. */
  counted: number;
  /** What the counter says. */
  final: number;
  lost: number;
  /** How long every thread's loop ran at the same time, ms. */
  togetherMs: number;
}

type Bump = (counter: Int32Array, atomic: boolean) => void;

/**
 * `threads` threads race on a fresh counter once per window, `ms` each, atomic or not as `windows` says; the
 * same threads run every window (starting a thread costs far more than a window).
 */
export async function raceFor(
  counterModule: URL | string,
  threads: number,
  ms: number,
  windows: boolean[],
): Promise<RaceResult[]> {
  const cells = new SharedArrayBuffer(4 * windows.length * Int32Array.BYTES_PER_ELEMENT);
  const notes = new SharedArrayBuffer(3 * threads * windows.length * Float64Array.BYTES_PER_ELEMENT);
  const gate = new Int32Array(cells);
  const workers = Array.from({ length: threads }, (_, index) => {
    const data: RaceData = {
      role: 'lab03-race',
      counterModule: String(counterModule),
      cells,
      notes,
      index,
      threads,
      windows,
    };
    return new Worker(TS_THREAD_ENTRY, { workerData: tsThreadData(import.meta.url, { ...data }) });
  });
  let failure: Error | undefined;
  const exited = workers.map(
    (worker) =>
      new Promise<void>((resolve) => {
        worker.on('error', (error) => {
          failure ??= error;
        });
        worker.on('exit', () => resolve());
      }),
  );
  try {
    for (let w = 0; w < windows.length; w++) {
      // Every thread waits at the gate first (starting one takes ~100 ms, far longer than a race window).
      const deadline = Date.now() + 20_000;
      while (Atomics.load(gate, 4 * w + 2) < threads && !failure && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      if (failure) throw failure;
      if (Atomics.load(gate, 4 * w + 2) < threads)
        throw new Error('the race threads did not start within 20 s');
      Atomics.store(gate, 4 * w + 1, 1);
      Atomics.notify(gate, 4 * w + 1);
      await new Promise((resolve) => setTimeout(resolve, ms));
      Atomics.store(gate, 4 * w + 3, 1);
    }
    await Promise.all(exited);
    if (failure) throw failure;
  } finally {
    for (let w = 0; w < windows.length; w++) Atomics.store(gate, 4 * w + 3, 1);
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  const note = new Float64Array(notes);
  return windows.map((atomic, w) => {
    let counted = 0;
    let lastStart = Number.NEGATIVE_INFINITY;
    let firstEnd = Number.POSITIVE_INFINITY;
    for (let i = 0; i < threads; i++) {
      const k = 3 * (w * threads + i);
      counted += note[k]!;
      lastStart = Math.max(lastStart, note[k + 1]!);
      firstEnd = Math.min(firstEnd, note[k + 2]!);
    }
    const final = Atomics.load(gate, 4 * w);
    return { atomic, counted, final, lost: counted - final, togetherMs: Math.max(0, firstEnd - lastStart) };
  });
}

if (!isMainThread && (workerData as Partial<RaceData>)?.role === 'lab03-race') {
  const { counterModule, cells, notes, index, threads, windows } = workerData as RaceData;
  // Not awaited at the top: the lab's module imports the chassis, which must finish loading first.
  void import(counterModule).then(({ bump }: { bump: Bump }) => {
    const control = new Int32Array(cells);
    const note = new Float64Array(notes);
    for (const [w, atomic] of windows.entries()) {
      // This window's counter alone: bump() sees a one-cell array, as in the lab's own race.
      const counter = new Int32Array(cells, 4 * w * Int32Array.BYTES_PER_ELEMENT, 1);
      Atomics.add(control, 4 * w + 2, 1);
      Atomics.wait(control, 4 * w + 1, 0);
      const started = now();
      let bumps = 0;
      while (Atomics.load(control, 4 * w + 3) === 0) {
        // Ten per look at the stop flag: the bumps, not the looks, should fill the loop.
        for (let k = 0; k < 10; k++) bump(counter, atomic);
        bumps += 10;
      }
      const k = 3 * (w * threads + index);
      note[k] = bumps;
      note[k + 1] = started;
      note[k + 2] = now();
    }
  });
}
