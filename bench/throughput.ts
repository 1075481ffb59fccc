/**
 * One queue-throughput run, in a process of its own (so no system inherits another's warm JIT, sockets or
 * garbage): `node --import tsx bench/throughput.ts SYSTEM TOTAL CONCURRENCY` prints one JSON line.
 * N no-op tasks enqueued in bulk, then drained by one worker at the given concurrency.
 */
import { deleteMatching, deleteQueue } from '../mini-queue/admin.ts';
import { Queue } from '../mini-queue/queue.ts';
import { connectRedis } from '../mini-queue/redis/client.ts';
import { resolveRedisUrl } from '../mini-queue/redis/resolve.ts';
import { EXAMPLE_TASKS_PATH, loadTasks } from '../mini-queue/tasks.ts';
import { Worker } from '../mini-queue/worker.ts';
import { beeQueueThroughput } from './peers/bee-queue.ts';
import { bullmqThroughput } from './peers/bullmq.ts';
import { type System, type ThroughputRun, timeDrain, timeEnqueue } from './throughput-run.ts';

async function miniQueueThroughput(
  queue: string,
  total: number,
  concurrency: number,
): Promise<ThroughputRun> {
  const producer = new Queue({ name: queue });
  const enqueueSeconds = await timeEnqueue(total, (n) =>
    producer.enqueueMany(
      'noop',
      Array.from({ length: n }, () => []),
    ),
  );
  // The peers' handlers are functions already in memory; ours come from the tasks module. Import it before the
  // clock starts, so the drain is timed alike (Worker.start's own import then finds it cached).
  await loadTasks(EXAMPLE_TASKS_PATH);
  let worker: Worker | undefined;
  const drain = await timeDrain(total, async (taskDone) => {
    worker = await Worker.start({
      queue,
      pool: process.env.BENCH_POOL === 'solo' ? 'solo' : 'event-loop',
      concurrency,
      // What `npx tsx mini-queue worker` runs on the reference broker: the batch reserve and pipelined acks.
      fastPath: true,
    });
    worker.on('task', taskDone);
  });
  await worker?.stop();
  await producer.close();
  return { enqueueSeconds, ...drain };
}

export async function runThroughput(
  system: System,
  total: number,
  concurrency: number,
): Promise<ThroughputRun> {
  const url = await resolveRedisUrl();
  const queue = `bench-${system}-${process.pid}`;
  try {
    if (system === 'bullmq') return await bullmqThroughput(url, queue, total, concurrency);
    if (system === 'bee-queue') return await beeQueueThroughput(url, queue, total, concurrency);
    return await miniQueueThroughput(queue, total, concurrency);
  } finally {
    const redis = await connectRedis();
    await deleteQueue(redis, queue);
    // Peers keep their keys under their own prefixes; remove what they left.
    for (const pattern of [`bull:${queue}:*`, `bq:${queue}:*`]) await deleteMatching(redis, pattern);
    redis.disconnect();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [system, total, concurrency] = process.argv.slice(2);
  const result = await runThroughput(system as System, Number(total), Number(concurrency));
  console.log(JSON.stringify(result));
  process.exit(0);
}
