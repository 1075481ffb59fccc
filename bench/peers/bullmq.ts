import { Queue, Worker } from 'bullmq';
import type { ThroughputRun } from '../throughput.ts';

/** BullMQ, as its docs show it: addBulk, then one Worker with `concurrency`, no-op processor. */
export async function bullmqThroughput(
  url: string,
  queue: string,
  total: number,
  concurrency: number,
): Promise<ThroughputRun> {
  const connection = { url, maxRetriesPerRequest: null } as const;
  const producer = new Queue(queue, { connection });
  const t0 = performance.now();
  for (let i = 0; i < total; i += 1000) {
    const n = Math.min(1000, total - i);
    await producer.addBulk(
      Array.from({ length: n }, () => ({ name: 'noop', data: {}, opts: { removeOnComplete: true } })),
    );
  }
  const enqueueSeconds = (performance.now() - t0) / 1000;
  let done = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const t1 = performance.now();
  const cpu = process.cpuUsage();
  const worker = new Worker(queue, async () => null, { connection, concurrency });
  worker.on('completed', () => {
    if (++done === total) finish();
  });
  await finished;
  const processSeconds = (performance.now() - t1) / 1000;
  const used = process.cpuUsage(cpu);
  const processCpuSeconds = (used.user + used.system) / 1e6;
  await worker.close();
  await producer.obliterate({ force: true });
  await producer.close();
  return { enqueueSeconds, processSeconds, processCpuSeconds };
}
