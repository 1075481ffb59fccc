import type { Channel } from 'amqplib';
import { UserError } from '../errors.ts';
import { validateQueueName } from '../keys.ts';

/**
 * What a mini-queue queue is on RabbitMQ. All of it is reached through the default exchange (a queue's name is
 * its routing key), so there is nothing to bind.
 *
 *   producer ──publish, confirm──▶ mq.<queue>  (quorum, durable) ──deliver, prefetch──▶ worker ──ack──▶ gone
 *                                      ▲   ▲                                              │ channel lost: requeued,
 *                                      │   └───────────────────────────────────────────────┘ x-delivery-count + 1
 *   countdown, eta, retry ──▶ mq.<queue>/delay-<ms>ms (classic, every message the same TTL) ──expired──┘
 *                                      (dead-lettered through the default exchange to mq.<queue>)
 *
 * A '/' cannot appear in a mini-queue queue name, so no queue's delay queue can be mistaken for another queue.
 */
export interface AmqpNames {
  /** The queue workers consume: `mq.<queue>`. */
  readonly queue: string;
  /** The delay queue whose messages all wait `ms` (a bucket from delayBucket). */
  delay(ms: number): string;
}

export function amqpNames(queue: string): AmqpNames {
  const main = `mq.${validateQueueName(queue)}`;
  return { queue: main, delay: (ms) => `${main}/delay-${ms}ms` };
}

/**
 * Quorum, not classic: it counts how often a message went back to the queue unacked (the `x-delivery-count`
 * header), so a task that kills every worker that runs it can be stopped (the worker's maxRedeliveries), which
 * a classic queue's one `redelivered` bit cannot tell from a single death. It is also replicated and always
 * durable. Its arguments must be the same in every declare: RabbitMQ refuses a redeclare that differs.
 */
export const MAIN_QUEUE_ARGUMENTS = { 'x-queue-type': 'quorum' } as const;

export async function declareMain(channel: Channel, names: AmqpNames): Promise<void> {
  try {
    await channel.assertQueue(names.queue, { durable: true, arguments: { ...MAIN_QUEUE_ARGUMENTS } });
  } catch (error) {
    if ((error as { code?: number }).code === 406) {
      throw new UserError(
        `RabbitMQ has a queue '${names.queue}' declared differently (not a durable quorum queue): delete it (rabbitmqctl delete_queue ${names.queue}) or use another --queue`,
      );
    }
    throw error;
  }
}

/**
 * Delayed messages wait in one queue per delay, every message in it with the same TTL (x-message-ttl), and are
 * dead-lettered to the main queue when it runs out. Why not one queue with a TTL per message: RabbitMQ expires
 * only the message at the head of a queue, so a 1-hour countdown in front of a 1-second one would hold the short
 * one for an hour (head-of-line blocking). With one TTL per queue the head is always the first to expire.
 * Why not kombu's binary delay levels (28 queues, a message hops through one per bit of its delay): exact to the
 * second but up to 28 hops, and the hops are where a crash can lose a message (dead-lettering is at most once).
 * Here: one hop, and delays rounded UP to a bucket, so a task never runs early and at most 100 ms or ~5% late;
 * a few hundred buckets cover 2 s to 24 days, and an unused bucket deletes itself (x-expires).
 */
export function delayBucket(ms: number): number {
  if (!(ms > 0)) return 0;
  if (ms <= FINE_UP_TO_MS) return Math.ceil(ms / FINE_STEP_MS) * FINE_STEP_MS;
  let k = Math.ceil(Math.log(ms / FINE_UP_TO_MS) / Math.log(1 + COARSE_STEP));
  let bucket = Math.ceil(FINE_UP_TO_MS * (1 + COARSE_STEP) ** k);
  // Floating point may land a hair below: never early.
  while (bucket < ms) bucket = Math.ceil(FINE_UP_TO_MS * (1 + COARSE_STEP) ** ++k);
  return Math.min(bucket, MAX_DELAY_MS);
}

/** Up to this delay, buckets every FINE_STEP_MS (at most 100 ms late); past it, every 5%. */
const FINE_UP_TO_MS = 2000;
const FINE_STEP_MS = 100;
// 4.9%, not 5: a bucket is rounded up to a whole ms, and the rest must stay within 5% of the delay.
const COARSE_STEP = 0.049;
/**
 * The longest bucket (Node's longest timer, about 24.8 days). A longer eta waits in this one and, taken early, is
 * put back for the rest by the worker (holdIfEarly: it reads the envelope's eta).
 */
export const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * How long a delay queue outlives its last declare: its longest wait plus this. Publishing does not count as
 * use for x-expires, so every process declares a delay queue again before publishing to it when its own last
 * declare is older than REDECLARE_MS; a message published then leaves well before the queue may go.
 */
const EXPIRE_SLACK_MS = 10 * 60_000;
export const REDECLARE_MS = 60_000;

export function delayQueueArguments(names: AmqpNames, bucket: number): Record<string, unknown> {
  return {
    'x-message-ttl': bucket,
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': names.queue,
    'x-expires': bucket + EXPIRE_SLACK_MS,
  };
}

/** How long a delay queue may still exist after a declare at `declaredAt` (see delayQueueArguments). */
export function delayQueueLife(bucket: number): number {
  return bucket + EXPIRE_SLACK_MS + REDECLARE_MS;
}

export async function declareDelay(channel: Channel, names: AmqpNames, bucket: number): Promise<string> {
  const name = names.delay(bucket);
  await channel.assertQueue(name, { durable: true, arguments: delayQueueArguments(names, bucket) });
  return name;
}
