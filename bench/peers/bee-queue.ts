import BeeQueue from 'bee-queue';
import type { ThroughputRun } from '../throughput.ts';

/** Bee-Queue, as its docs show it: saveAll, then process(concurrency, handler), no-op handler. */
export async function beeQueueThroughput(
  url: string,
  queue: string,
  total: number,
  concurrency: number,
): Promise<ThroughputRun> {
  const q = new BeeQueue(queue, {
    redis: { url } as never,
    removeOnSuccess: true,
    sendEvents: false,
    storeJobs: false,
  });
  await q.ready();
  const t0 = performance.now();
  for (let i = 0; i < total; i += 1000) {
    const n = Math.min(1000, total - i);
    await q.saveAll(Array.from({ length: n }, () => q.createJob({})));
  }
  const enqueueSeconds = (performance.now() - t0) / 1000;
  let done = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  q.on('succeeded', () => {
    if (++done === total) finish();
  });
  const t1 = performance.now();
  const cpu = process.cpuUsage();
  q.process(concurrency, async () => null);
  await finished;
  const processSeconds = (performance.now() - t1) / 1000;
  const used = process.cpuUsage(cpu);
  const processCpuSeconds = (used.user + used.system) / 1e6;
  await q.destroy();
  await q.close();
  return { enqueueSeconds, processSeconds, processCpuSeconds };
}
