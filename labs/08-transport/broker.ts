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
    // TODO(08.1): publish each envelope (as a Buffer) to this.names.queue on the confirm channel that
    // this.publishing() gives, as a persistent message; then wait until RabbitMQ has confirmed every one (a
    // refused one must make push() reject).
    this.todo(
      '08.1',
      'push(): nothing reaches RabbitMQ, so the queue stays empty; and a message counts as enqueued only once RabbitMQ says it has it, not when it left this process',
    );
  }

  protected async consume(channel: Channel): Promise<void> {
    // TODO(08.2): set the channel's prefetch (basic.qos) to this.prefetch; then consume this.names.queue with
    // manual acks (noAck: false), with this.onMessage(channel) as the callback (it calls deliver() for each).
    this.todo(
      '08.2',
      'consume(): RabbitMQ never sends this worker a message; it must send at most as many unacked ones as the worker can hold, and keep each one until the worker acks it',
    );
  }

  protected deliver(channel: Channel, message: ConsumeMessage): void {
    // TODO(08.3): how often did this message come back unacked? The quorum queue counts it in the header
    // x-delivery-count (absent the first time). Put that count in the envelope (withRedelivered below), then
    // this.hold() the envelope with its delivery: { channel, message }.
    this.todo(
      '08.3',
      'deliver(): a message RabbitMQ sends never reaches the worker; and one whose worker died running it must say how many times, or a task that kills every worker runs for ever',
    );
  }

  async ack(raw: string, record: ResultRecord): Promise<boolean> {
    // TODO(08.2): store the record in Redis first (this.store), then take the delivery held for raw (this.take)
    // and ack its message on its own channel, and return true. None held (undefined): return false, ack nothing.
    return this.todo(
      '08.2',
      'ack(): no task is ever settled; its result must be in Redis before RabbitMQ is told to drop the message, so no crash in between loses it, and a message no longer held is not acked at all',
    );
  }

  protected channelLost(channel: Channel): void {
    // TODO(08.3): RabbitMQ has put back everything this channel delivered that was not acked: drop all of it
    // here, buffered or held (this.forget), or it would be handed out again, or acked with a tag of a dead channel.
    this.todo(
      '08.3',
      'channelLost(): what a lost channel delivered stays with this worker although RabbitMQ has given it to another already, so it would run twice',
    );
  }
}

// Don't change below this line.

/** The envelope with `redelivered` set to `deaths`, its last field (as lab 00's recover-3.lua writes it). */
function withRedelivered(raw: string, deaths: number): string {
  if (deaths <= 0 || raw.length < 3 || !raw.startsWith('{') || !raw.endsWith('}')) return raw;
  const bare = raw.replace(/,"redelivered":\d+}$/, '}');
  return `${bare.slice(0, -1)},"redelivered":${deaths}}`;
}
