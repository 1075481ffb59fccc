import { validateQueueName } from '../keys.ts';
import { connectRedis } from '../redis/client.ts';
import { decodeBatch } from './codec.ts';
import { ALL_EVENTS_PATTERN, type EventBatch, eventsChannel, queueOfKey } from './types.ts';

/**
 * Calls `onBatch` with every event batch published on `queue` (or on every queue, with `'*'`), on a connection
 * of its own (a subscribed connection can run nothing else). Batches that are not ours are skipped. ioredis
 * subscribes again after a reconnect; what was published meanwhile is gone (pub/sub keeps nothing): the
 * heartbeats, which are keys, say where things stand. Resolves once subscribed, with the function that stops it.
 */
export async function subscribeEvents(
  url: string | undefined,
  queue: string,
  onBatch: (batch: EventBatch, queue: string) => void,
): Promise<() => Promise<void>> {
  const all = queue === '*';
  if (!all) validateQueueName(queue);
  const redis = await connectRedis({
    ...(url === undefined ? {} : { url }),
    name: 'mq-events',
    autoPipelining: false,
  });
  const deliver = (channel: string, message: string) => {
    const batch = decodeBatch(message);
    const from = queueOfKey(channel);
    if (batch && from !== undefined) onBatch(batch, from);
  };
  try {
    if (all) {
      redis.on('pmessage', (_pattern: string, channel: string, message: string) => deliver(channel, message));
      await redis.psubscribe(ALL_EVENTS_PATTERN);
    } else {
      redis.on('message', deliver);
      await redis.subscribe(eventsChannel(queue));
    }
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  return async () => {
    redis.disconnect();
  };
}
