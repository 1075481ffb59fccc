import type { Redis } from 'ioredis';
import { afterAll, afterEach } from 'vitest';
import { deleteQueue } from '../../mini-queue/admin.ts';
import { DEFAULT_AMQP_URL } from '../../mini-queue/amqp/address.ts';
import { deleteAmqpQueues } from '../../mini-queue/amqp/admin.ts';
import type { AmqpBrokerParts } from '../../mini-queue/amqp/broker-base.ts';
import { AmqpLink } from '../../mini-queue/amqp/link.ts';
import type { Broker } from '../../mini-queue/broker.ts';
import { amqpBrokerClass } from '../../mini-queue/parts.ts';
import { connectRedis } from '../../mini-queue/redis/client.ts';

/** The RabbitMQ the tests use: BROKER_URL, else the local default (guest/guest on 127.0.0.1:5672). */
export const AMQP_URL = process.env.BROKER_URL || DEFAULT_AMQP_URL;

let counter = 0;

/**
 * Unique queue names for one test file on RabbitMQ, each deleted after its test, failed or not: its RabbitMQ
 * queues first (the main one and the delay queues Redis remembers), then its Redis keys.
 */
export function useAmqpQueues(label: string): { name(): string; redis(): Promise<Redis> } {
  const names: string[] = [];
  let client: Redis | undefined;
  const redis = async () => {
    client ??= await connectRedis({ name: `test-${label}` });
    return client;
  };
  afterEach(async () => {
    const r = await redis();
    for (const name of names.splice(0)) {
      await deleteAmqpQueues(r, name, AMQP_URL);
      await deleteQueue(r, name);
    }
  });
  afterAll(() => {
    client?.disconnect();
  });
  return {
    name() {
      const name = `test-${label}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
      names.push(name);
      return name;
    },
    redis,
  };
}

/** The reference AmqpBroker (lab 08's, solutions track) with its link in hand (to sever it, count its losses). */
export async function openAmqpBroker(
  queue: string,
  options: Partial<Pick<AmqpBrokerParts, 'prefetch' | 'resultTtlSeconds'>> = {},
): Promise<{ broker: Broker; link: AmqpLink }> {
  const AmqpBroker = await amqpBrokerClass('solutions');
  const link = new AmqpLink(AMQP_URL, `test ${queue}`);
  await link.connect();
  const redis = await connectRedis({ name: `test-${queue}` });
  const broker = new AmqpBroker({ queue, link, redis, resultTtlSeconds: 600, ...options });
  return { broker, link };
}
