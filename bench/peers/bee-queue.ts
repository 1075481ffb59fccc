import BeeQueue from 'bee-queue';
import { type ThroughputRun, timeDrain, timeEnqueue } from '../throughput-run.ts';

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
  const enqueueSeconds = await timeEnqueue(total, (n) =>
    q.saveAll(Array.from({ length: n }, () => q.createJob({}))),
  );
  const drain = await timeDrain(total, (taskDone) => {
    q.on('succeeded', taskDone);
    q.process(concurrency, async () => null);
  });
  await q.destroy();
  await q.close();
  return { enqueueSeconds, ...drain };
}
