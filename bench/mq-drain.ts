/**
 * One mini-queue run (on Redis, or on RabbitMQ with BROKER_URL set: results in Redis either way), timed as every system's (throughput-run.ts): `total` runs of one example task
 * enqueued in bulk on a queue of its own, then drained by a fresh worker (reference track, fast path), the queue's
 * keys deleted after. Section 1 runs it in a process of its own with no-ops (bench/throughput.ts); section 4 in
 * its own process with scrapePage, beside Celery's I/O runs, which go through Redis too.
 */
import { deleteQueue } from '../mini-queue/admin.ts';
import { chosenTransport } from '../mini-queue/amqp/address.ts';
import { deleteAmqpQueues } from '../mini-queue/amqp/admin.ts';
import { Queue } from '../mini-queue/queue.ts';
import { connectRedis } from '../mini-queue/redis/client.ts';
import { EXAMPLE_TASKS_PATH, loadTasks } from '../mini-queue/tasks.ts';
import { type TaskRun, Worker } from '../mini-queue/worker.ts';
import { type MqQueuePool, type ThroughputRun, timeDrain, timeEnqueue } from './throughput-run.ts';

export interface MqDrain {
  queue: string;
  task: 'noop' | 'scrapePage';
  args: unknown[];
  total: number;
  concurrency: number;
  pool: MqQueuePool;
}

export async function miniQueueDrain(run: MqDrain): Promise<ThroughputRun> {
  const { queue, total } = run;
  const rabbit = chosenTransport() === 'rabbitmq';
  const producer = new Queue({ name: queue });
  let worker: Worker | undefined;
  try {
    const enqueueSeconds = await timeEnqueue(total, (n) =>
      producer.enqueueMany(
        run.task,
        Array.from({ length: n }, () => run.args),
      ),
    );
    // The peers' handlers are functions already in memory; ours come from the tasks module. Import it before the
    // clock starts, so the drain is timed alike (Worker.start's own import then finds it cached).
    await loadTasks(EXAMPLE_TASKS_PATH);
    let failed: TaskRun | undefined;
    const drain = await timeDrain(total, async (taskDone) => {
      worker = await Worker.start({
        queue,
        pool: run.pool,
        concurrency: run.concurrency,
        // What `npx tsx mini-queue worker` runs on the reference broker: the batch reserve and pipelined acks.
        // RabbitMQ has no such path: it pushes up to the prefetch, and reserve() takes from that buffer.
        fastPath: !rabbit,
      });
      worker.on('task', (task: TaskRun) => {
        if (task.state === 'RETRY') return;
        if (task.state === 'FAILURE') failed ??= task;
        taskDone();
      });
    });
    // A failed task would still count as drained: say so rather than report a figure it distorts.
    if (failed) throw new Error(`${run.task} failed in a ${run.pool} worker: ${failed.error}`);
    return { enqueueSeconds, ...drain };
  } finally {
    await worker?.stop();
    await producer.close();
    const redis = await connectRedis();
    if (rabbit) await deleteAmqpQueues(redis, queue);
    await deleteQueue(redis, queue);
    redis.disconnect();
  }
}
