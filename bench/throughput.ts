/**
 * One queue-throughput run, in a process of its own (so no system inherits another's warm JIT, sockets or
 * garbage): `node --import tsx bench/throughput.ts SYSTEM TOTAL CONCURRENCY [POOL]` prints one JSON line.
 * N no-op tasks enqueued in bulk, then drained by one worker at the given concurrency; POOL is mini-queue's
 * (event-loop by default, or BENCH_POOL's).
 */
import { deleteMatching, deleteQueue } from '../mini-queue/admin.ts';
import { resolveAmqpUrl } from '../mini-queue/amqp/address.ts';
import { connectRedis } from '../mini-queue/redis/client.ts';
import { resolveRedisUrl } from '../mini-queue/redis/resolve.ts';
import { miniQueueDrain } from './mq-drain.ts';
import { beeQueueThroughput } from './peers/bee-queue.ts';
import { bullmqThroughput } from './peers/bullmq.ts';
import {
  type ChildSystem,
  MQ_QUEUE_POOLS,
  type MqQueuePool,
  RABBITMQ_SYSTEM,
  type ThroughputRun,
} from './throughput-run.ts';

export async function runThroughput(
  system: ChildSystem,
  total: number,
  concurrency: number,
  pool: MqQueuePool = 'event-loop',
): Promise<ThroughputRun> {
  const url = await resolveRedisUrl();
  const queue = `bench-${system}-${process.pid}`;
  try {
    if (system === 'bullmq') return await bullmqThroughput(url, queue, total, concurrency);
    if (system === 'bee-queue') return await beeQueueThroughput(url, queue, total, concurrency);
    if (system === RABBITMQ_SYSTEM) process.env.BROKER_URL = await resolveAmqpUrl();
    else {
      delete process.env.BROKER_URL;
      delete process.env.BROKER;
    }
    return await miniQueueDrain({ queue, task: 'noop', args: [], total, concurrency, pool });
  } finally {
    const redis = await connectRedis();
    await deleteQueue(redis, queue);
    // Peers keep their keys under their own prefixes; remove what they left.
    for (const pattern of [`bull:${queue}:*`, `bq:${queue}:*`]) await deleteMatching(redis, pattern);
    redis.disconnect();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [system, total, concurrency, pool = process.env.BENCH_POOL ?? 'event-loop'] = process.argv.slice(2);
  if (!(MQ_QUEUE_POOLS as readonly string[]).includes(pool)) {
    throw new Error(`POOL must be one of ${MQ_QUEUE_POOLS.join(', ')}, got ${pool}`);
  }
  const result = await runThroughput(
    system as ChildSystem,
    Number(total),
    Number(concurrency),
    pool as MqQueuePool,
  );
  console.log(JSON.stringify(result));
  process.exit(0);
}
