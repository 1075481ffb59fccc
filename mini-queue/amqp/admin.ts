import type { Redis } from 'ioredis';
import { queueKey } from '../keys.ts';
import { resolveAmqpUrl } from './address.ts';
import { AmqpLink } from './link.ts';
import { amqpNames } from './topology.ts';

/**
 * Deletes one queue's RabbitMQ side: its main queue and the delay queues Redis remembers for it
 * (`mq:{queue}:amqp:delays`). Run it before the queue's Redis keys go (deleteQueue), or those delay queues are
 * left to expire by themselves (x-expires). Returns how many queues went.
 */
export async function deleteAmqpQueues(redis: Redis, queue: string, url?: string): Promise<number> {
  const names = amqpNames(queue);
  const delays = await redis.zrange(queueKey(queue, 'amqp', 'delays'), 0, -1);
  const link = new AmqpLink(url ?? (await resolveAmqpUrl()), `mini-queue admin (pid ${process.pid})`);
  let deleted = 0;
  try {
    for (const name of [names.queue, ...delays]) {
      // A queue that is not there answers delete-ok too (RabbitMQ 3.x): nothing to tell apart.
      await link.scratch((channel) => channel.deleteQueue(name));
      deleted++;
    }
  } finally {
    await link.close();
  }
  return deleted;
}
