/**
 * Lab 08 — the transport is a choice: the same queue on RabbitMQ, results still in Redis.
 *
 * Goal: the AMQP parts of a RabbitMQ broker behind the same Broker contract as lab 00's RedisBroker, so the
 * unchanged worker runs on it (Celery's usual pairing: RabbitMQ carries the messages, Redis keeps the results).
 * RabbitMQ pushes messages to the worker, up to the prefetch, and takes back whatever a dead consumer had not
 * acked the moment its connection goes: no lease, no visibility timeout to wait for.
 *
 * Pass: `BROKER_URL=amqp://guest:guest@127.0.0.1:5672 npx tsx labs/08-transport` ends with N/N tasks done, and
 * `npm run check -- 08` passes.
 *
 * Try this to break it: in consume(), pass `{ noAck: true }` and delete the channel.ack in ack(), then kill -9 a
 * worker midway (`npx tsx test/crash-drill.ts 200 solo` with BROKER_URL set): the tasks it held are gone for good,
 * since RabbitMQ forgot them the moment it sent them.
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import { AmqpBrokerBase, type AmqpBrokerParts } from '../../mini-queue/amqp/broker-base.ts';
import type { ResultRecord } from '../../mini-queue/broker.ts';

export class AmqpBroker extends AmqpBrokerBase {
  constructor(parts: AmqpBrokerParts) {
    super(parts);
  }

  async push(raws: string[]): Promise<void> {
    if (raws.length === 0) return;
    const channel = await this.publishing();
    for (const raw of raws) {
      // persistent: written to disk, so a RabbitMQ restart keeps it (the queue is durable too).
      channel.sendToQueue(this.names.queue, Buffer.from(raw), { persistent: true });
    }
    // (08.1) Not enqueued until the broker says so: sendToQueue only wrote to a socket buffer. The confirm comes
    // once RabbitMQ has the message safe (a quorum queue: on disk on a majority); a nack or a lost channel rejects.
    await channel.waitForConfirms();
  }

  protected async consume(channel: Channel): Promise<void> {
    // (08.2) prefetch (basic.qos): RabbitMQ sends at most this many unacked messages to this consumer, the rest
    // wait in the queue for other workers. Unbounded, one worker would take the whole queue into its memory.
    await channel.prefetch(this.prefetch);
    // (08.2) noAck false: a message stays the consumer's until it acks it, and comes back if the consumer dies.
    // onMessage(channel) calls deliver() for each message.
    await channel.consume(this.names.queue, this.onMessage(channel), { noAck: false });
  }

  protected deliver(channel: Channel, message: ConsumeMessage): void {
    // (08.3) A quorum queue counts how often a message came back unacked (its consumer died, or gave it back):
    // the envelope's `redelivered`, which the worker's poison guard (maxRedeliveries) reads, as on Redis.
    const deaths = Number(message.properties.headers?.['x-delivery-count'] ?? 0);
    this.hold(withRedelivered(message.content.toString(), deaths), { channel, message });
  }

  async ack(raw: string, record: ResultRecord): Promise<boolean> {
    // (08.2) Redis first, then the ack: a crash between them redelivers a message whose result is stored (the
    // chassis acks it unrun). The other order would lose the result of a message that is gone.
    await this.store(record);
    const delivery = this.take(raw);
    // (08.3) Not held any more: its channel died and RabbitMQ requeued it. Its delivery tag meant something only
    // on that channel; sent on another, it would name another message, or close that channel with an error.
    if (delivery === undefined) return false;
    delivery.channel.ack(delivery.message);
    return true;
  }

  protected channelLost(channel: Channel): void {
    // (08.3) Everything this channel delivered and we did not ack is back in the queue (RabbitMQ's doing, at
    // once): drop it here, buffered or running, or we would hand out or ack messages that are someone else's now.
    this.forget(channel);
  }
}

// Don't change below this line.

/** The envelope with `redelivered` set to `deaths`, its last field (as lab 00's recover-3.lua writes it). */
function withRedelivered(raw: string, deaths: number): string {
  if (deaths <= 0 || raw.length < 3 || !raw.startsWith('{') || !raw.endsWith('}')) return raw;
  const bare = raw.replace(/,"redelivered":\d+}$/, '}');
  return `${bare.slice(0, -1)},"redelivered":${deaths}}`;
}
