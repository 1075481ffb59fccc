/**
 * RabbitMQ as lab 08's demo and check see it: found or explained in one line, and looked at from the side, on a
 * connection of their own: how many messages a queue has ready and how many consumers, messages published
 * straight to it (not through the broker under test), and its queues deleted afterwards.
 */
import type { Channel } from 'amqplib';
import { chosenTransport, resolveAmqpUrl } from '../../mini-queue/amqp/address.ts';
import { deleteAmqpQueues } from '../../mini-queue/amqp/admin.ts';
import { AmqpLink } from '../../mini-queue/amqp/link.ts';
import { amqpNames, declareMain } from '../../mini-queue/amqp/topology.ts';
import type { Broker } from '../../mini-queue/broker.ts';
import { connectRedis } from '../../mini-queue/redis/client.ts';

/**
 * The RabbitMQ this process uses from now on (BROKER_URL, else amqp://127.0.0.1:5672 when it answers), logged in
 * once to be sure; else a UserError of one line saying how to get one. Every broker and worker this process opens
 * after it, and the processes it starts, use RabbitMQ.
 */
export async function useRabbit(): Promise<string> {
  if (!process.env.BROKER_URL && chosenTransport() !== 'rabbitmq') process.env.BROKER = 'rabbitmq';
  const url = await resolveAmqpUrl();
  const link = new AmqpLink(url, `mini-queue lab 08 probe (pid ${process.pid})`);
  try {
    await link.connect();
  } finally {
    await link.close();
  }
  return url;
}

/** A side view of RabbitMQ: one connection, a channel per question (a passive declare of a missing queue closes its channel). */
export class Rabbit {
  private readonly link: AmqpLink;

  constructor(private readonly url: string) {
    this.link = new AmqpLink(url, `mini-queue lab 08 look (pid ${process.pid})`);
  }

  /** The main queue of a mini-queue queue: ready messages (not the unacked ones) and consumers; zeros when gone. */
  async queue(name: string): Promise<{ ready: number; consumers: number }> {
    return this.link
      .scratch((channel) => channel.checkQueue(amqpNames(name).queue))
      .then(
        (ok) => ({ ready: ok.messageCount, consumers: ok.consumerCount }),
        () => ({ ready: 0, consumers: 0 }),
      );
  }

  /** Publishes raw envelopes to a queue's main queue, persistent and confirmed, declared first as the chassis does. */
  async publish(name: string, raws: string[]): Promise<void> {
    const names = amqpNames(name);
    const channel = await this.link.publishing();
    await declareMain(channel, names);
    for (const raw of raws) channel.sendToQueue(names.queue, Buffer.from(raw), { persistent: true });
    await channel.waitForConfirms();
  }

  /** Takes one message off a queue's main queue and acks it (basic.get): its properties and body, or undefined. */
  async take(name: string): Promise<{ body: string; deliveryMode: number | undefined } | undefined> {
    return this.link.scratch(async (channel) => {
      const message = await channel.get(amqpNames(name).queue, { noAck: true });
      if (message === false) return undefined;
      return { body: message.content.toString(), deliveryMode: message.properties.deliveryMode };
    });
  }

  /** Runs `use` on a channel of its own (for a queue declared with arguments of a check's choosing). */
  scratch<T>(use: (channel: Channel) => Promise<T>): Promise<T> {
    return this.link.scratch(use);
  }

  /**
   * Deletes each queue's RabbitMQ side: its main queue and the delay queues Redis remembers for it. Before its
   * Redis keys go: the list of delay queues is one of them.
   */
  async drop(names: string[]): Promise<void> {
    if (names.length === 0) return;
    const redis = await connectRedis({ name: 'mq-lab08-drop' });
    try {
      for (const name of names) await deleteAmqpQueues(redis, name, this.url).catch(() => 0);
    } finally {
      redis.disconnect();
    }
  }

  async close(): Promise<void> {
    await this.link.close();
  }
}

/**
 * Cuts a lab 08 broker's AMQP connection without a goodbye, as a network failure or a crash would: RabbitMQ takes
 * back what it had delivered on it at once, and amqplib closes its channels (channelLost). The socket is destroyed
 * with an error: a plain destroy() goes unnoticed by amqplib until its heartbeat times out, tens of seconds later.
 */
export async function severBroker(broker: Broker): Promise<void> {
  const link = (broker as unknown as { link?: { connection?: Promise<unknown> } }).link;
  const model = (await link?.connection?.catch(() => undefined)) as
    | {
        connection?: { stream?: { destroy(error?: Error): void } };
        once(event: 'close', f: () => void): void;
      }
    | undefined;
  const stream = model?.connection?.stream;
  if (!model || !stream) throw new Error('severBroker: this broker has no AMQP connection open');
  // Returns once amqplib has seen it: a close() of the link before that would wait for an answer that never comes.
  const closed = new Promise<void>((resolve) => model.once('close', resolve));
  stream.destroy(new Error('connection severed (a fault drill)'));
  await closed;
}

/** Closes a lab 08 broker's AMQP connection cleanly, keeping its Redis: RabbitMQ takes back what it did not ack. */
export async function closeAmqp(broker: Broker): Promise<void> {
  await (broker as unknown as { link: { close(): Promise<void> } }).link.close();
}
