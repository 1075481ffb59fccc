import { Queue, Worker } from 'bullmq';
import { type ThroughputRun, timeDrain, timeEnqueue } from '../throughput-run.ts';

/** BullMQ, as its docs show it: addBulk, then one Worker with `concurrency`, no-op processor. */
export async function bullmqThroughput(
  url: string,
  queue: string,
  total: number,
  concurrency: number,
): Promise<ThroughputRun> {
  const connection = { url, maxRetriesPerRequest: null } as const;
  const producer = new Queue(queue, { connection });
  const enqueueSeconds = await timeEnqueue(total, (n) =>
    producer.addBulk(
      Array.from({ length: n }, () => ({ name: 'noop', data: {}, opts: { removeOnComplete: true } })),
    ),
  );
  let worker: Worker | undefined;
  const drain = await timeDrain(total, (taskDone) => {
    worker = new Worker(queue, async () => null, { connection, concurrency });
    worker.on('completed', taskDone);
  });
  await worker?.close();
  await producer.obliterate({ force: true });
  await producer.close();
  return { enqueueSeconds, ...drain };
}
