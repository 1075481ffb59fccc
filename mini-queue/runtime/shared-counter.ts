/**
 * A race on shared memory, for lab 03's counter exercise: N threads bump one counter in a SharedArrayBuffer with a
 * `bump(counter, atomic)` function imported from a module given by URL, all released at the same moment.
 *
 *   raceThreads(BUMP_MODULE, threads, bumps, atomic)   resolves the final count: exact is threads x bumps
 */
import { isMainThread, Worker, workerData } from 'node:worker_threads';
import { TS_THREAD_ENTRY, tsThreadData } from './typescript.ts';

interface RaceData {
  role: 'shared-counter';
  /** The module whose `bump` export each thread runs. */
  bumpModule: string;
  shared: SharedArrayBuffer;
  bumps: number;
  atomic: boolean;
}

type Bump = (counter: Int32Array, atomic: boolean) => void;

export async function raceThreads(
  bumpModule: URL | string,
  threads: number,
  bumps: number,
  atomic: boolean,
): Promise<number> {
  // [0] the counter, [1] the start gate, [2] how many threads wait at the gate.
  const shared = new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT);
  const cells = new Int32Array(shared);
  const data: RaceData = { role: 'shared-counter', bumpModule: String(bumpModule), shared, bumps, atomic };
  const workers = Array.from(
    { length: threads },
    () => new Worker(TS_THREAD_ENTRY, { workerData: tsThreadData(import.meta.url, { ...data }) }),
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

if (!isMainThread && (workerData as Partial<RaceData>)?.role === 'shared-counter') {
  const { bumpModule, shared, bumps, atomic } = workerData as RaceData;
  // Not awaited at the top: the bump module imports this one, which must finish loading first.
  void import(bumpModule).then(({ bump }: { bump: Bump }) => {
    const cells = new Int32Array(shared);
    Atomics.add(cells, 2, 1);
    Atomics.wait(cells, 1, 0);
    for (let i = 0; i < bumps; i++) bump(cells, atomic);
  });
}
