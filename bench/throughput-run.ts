/**
 * What one queue-throughput run measures, and how, for every system alike: section 1 (queue.ts) reads it, the
 * child process (throughput.ts) produces it, and each system's run (throughput.ts for mini-queue, peers/ for the
 * others) uses the timers below, so all are enqueued in chunks of 1000 and timed from the moment their worker
 * is asked to start.
 */

export const SYSTEMS = ['mini-queue', 'bullmq', 'bee-queue'] as const;
export type System = (typeof SYSTEMS)[number];

export interface ThroughputRun {
  enqueueSeconds: number;
  processSeconds: number;
  /**
   * CPU time of the whole process (worker, client library, everything) while draining: per task, the figure a
   * busy shared machine disturbs least, and what bounds throughput on a free core.
   */
  processCpuSeconds: number;
}

/** Enqueues `total` tasks through `enqueue` in chunks of 1000, one chunk at a time; resolves with the seconds. */
export async function timeEnqueue(
  total: number,
  enqueue: (count: number) => Promise<unknown>,
): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < total; i += 1000) await enqueue(Math.min(1000, total - i));
  return (performance.now() - started) / 1000;
}

/**
 * Times a drain: the clock (wall and this process's CPU) starts before `start` is called and stops when
 * `taskDone` has been called `total` times. `start` starts the worker and hooks `taskDone` to its completions.
 */
export async function timeDrain(
  total: number,
  start: (taskDone: () => void) => unknown,
): Promise<Pick<ThroughputRun, 'processSeconds' | 'processCpuSeconds'>> {
  let done = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const started = performance.now();
  const cpu = process.cpuUsage();
  await start(() => {
    if (++done === total) finish();
  });
  await finished;
  const processSeconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { processSeconds, processCpuSeconds: (used.user + used.system) / 1e6 };
}
