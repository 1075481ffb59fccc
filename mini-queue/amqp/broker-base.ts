import { randomUUID } from 'node:crypto';
import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Redis } from 'ioredis';
import type { QueueStats, ResultRecord } from '../broker.ts';
import type { DeferringBroker } from '../early.ts';
import { decodeEnvelope } from '../envelope.ts';
import { NotImplemented } from '../errors.ts';
import { type QueueKeys, queueKey, queueKeys } from '../keys.ts';
import { Scripts } from '../redis/scripts.ts';
import { firstInvalidUtf8 } from '../undecodable.ts';
import type { AmqpLink } from './link.ts';
import {
  type AmqpNames,
  amqpNames,
  declareDelay,
  declareMain,
  delayBucket,
  delayQueueLife,
  REDECLARE_MS,
} from './topology.ts';

/** What the chassis hands a RabbitMQ broker (lab 08's AmqpBroker) when it opens one (mini-queue/parts.ts). */
export interface AmqpBrokerParts {
  queue: string;
  /** The AMQP connection and its channels, reopened after a loss. */
  link: AmqpLink;
  /** Results, counters, dead letters: Redis, as with the Redis transport. */
  redis: Redis;
  resultTtlSeconds: number;
  /**
   * basic.qos: the most unacked messages RabbitMQ sends this consumer. @default the first reserve()'s `max`,
   * which is the worker's concurrency x prefetchMultiplier (it holds nothing yet then)
   */
  prefetch?: number;
}

/** One message as RabbitMQ delivered it: its tag belongs to `channel` and means nothing on any other. */
export interface Delivery {
  readonly channel: Channel;
  readonly message: ConsumeMessage;
}

const HARNESS_LUA = new URL('../lua/', import.meta.url);
const AMQP_LUA = new URL('./lua/', import.meta.url);

/** How long a relay's claim on an outbox message lasts before another worker may relay it (see relay-take-2.lua). */
const RELAY_CLAIM_MS = 30_000;
const RELAY_BATCH = 500;
/** The held count this consumer publishes for `stats().active` lives this long unless renewed. */
const ACTIVE_TTL_MS = 3000;
const ACTIVE_EVERY_MS = 1000;
const SETTLED_STATES = new Set(['SUCCESS', 'FAILURE', 'RETRY']);

/**
 * Everything of the RabbitMQ broker that is not lab 08's lesson: the topology (a durable quorum queue per queue,
 * delay queues), the consumer's local buffer that reserve() serves from, results, counters and dead letters in
 * Redis, retries, delayed tasks, stats, and the Redis outbox relay. Lab 08 subclasses it with the AMQP parts that
 * carry the lesson: publish with confirms (push), consume with prefetch and manual ack (consume, ack), and what a
 * lost channel means for the messages it delivered (deliver, channelLost).
 *
 *   RabbitMQ ──deliver()──▶ hold() ──▶ [ buffer ] ──reserve()──▶ [ held ] ──ack(): store(), then basic.ack
 *                                                                   │
 *   channel lost ──channelLost()──▶ forget(channel): buffer and held of that channel dropped (requeued by RabbitMQ)
 *
 * No leases: RabbitMQ requeues what a consumer had not acked the moment its channel or connection goes (a worker
 * killed with kill -9 included: the kernel closes its socket). So recover() and extendLeases() have nothing to do,
 * and there is no visibility timeout to wait for.
 */
export abstract class AmqpBrokerBase implements DeferringBroker {
  readonly keys: QueueKeys;
  /** The AMQP names of this queue: `names.queue` is the one workers consume. */
  readonly names: AmqpNames;
  protected readonly redis: Redis;
  protected readonly link: AmqpLink;
  private readonly scripts: Scripts;
  private readonly resultTtlSeconds: number;
  private prefetchCount: number | undefined;
  private consuming: Promise<void> | undefined;
  /** Delivered, not handed to the worker yet, oldest first. */
  private buffer: Array<{ raw: string; delivery: Delivery }> = [];
  /** Handed to the worker, not settled: by raw (the same raw may be held twice), oldest first. */
  private readonly held = new Map<string, Delivery[]>();
  private heldCount = 0;
  /** Wakes a reserve() that waits for a delivery. */
  private arrived: (() => void) | undefined;
  /** Confirm channels the main queue has been declared on. */
  private readonly declaredOn = new WeakSet<Channel>();
  /** Delay queue -> when this process last declared it (see REDECLARE_MS). */
  private readonly delayDeclared = new Map<string, number>();
  private readonly queueName: string;
  private readonly activeKey: string;
  private activeTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** What a lab hook threw where no caller could catch it (deliver, channelLost): reserve() throws it. */
  private failure: unknown;

  constructor(parts: AmqpBrokerParts) {
    this.queueName = parts.queue;
    this.keys = queueKeys(parts.queue);
    this.names = amqpNames(parts.queue);
    this.redis = parts.redis;
    this.link = parts.link;
    this.resultTtlSeconds = parts.resultTtlSeconds;
    this.prefetchCount = parts.prefetch;
    this.scripts = new Scripts(this.redis, [HARNESS_LUA, AMQP_LUA]);
    this.activeKey = queueKey(parts.queue, 'amqp', 'held', randomUUID());
  }

  // ---- lab 08 writes these -------------------------------------------------------------------------------------

  /** Publishes encoded envelopes to `names.queue`; resolves once RabbitMQ has confirmed every one (08.1). */
  abstract push(raws: string[]): Promise<void>;
  /** Stores the result (Redis, first), then acks the delivery; false when it was no longer held (08.2, 08.3). */
  abstract ack(raw: string, record: ResultRecord): Promise<boolean>;
  /** Sets up a consuming channel: prefetch, then consume `names.queue` with manual acks (08.2). */
  protected abstract consume(channel: Channel): Promise<void>;
  /** One message from RabbitMQ: its raw for the worker (deaths counted), then hold() (08.3). */
  protected abstract deliver(channel: Channel, message: ConsumeMessage): void;
  /** A consuming channel is gone: what it delivered and was not acked is back in the queue (08.3). */
  protected abstract channelLost(channel: Channel): void;

  // ---- the harness lab 08 builds on ---------------------------------------------------------------------------------

  /** A lab stub: throws the guidance for a TODO that is not done yet. */
  protected todo(id: string, hint: string): never {
    throw new NotImplemented(id, hint);
  }

  /**
   * The callback for channel.consume(): each message to deliver(). What deliver() throws (a TODO not done) stops
   * nothing inside amqplib: the next reserve() throws it. A null message is RabbitMQ cancelling the consumer (its
   * queue was deleted): the channel is closed, so the link opens a new one and declares the queue again.
   */
  protected onMessage(channel: Channel): (message: ConsumeMessage | null) => void {
    return (message) => {
      if (message === null) {
        channel.close().catch(() => {});
        return;
      }
      try {
        this.deliver(channel, message);
      } catch (error) {
        this.failure ??= error;
        this.arrived?.();
      }
    };
  }

  /** basic.qos for this consumer (see AmqpBrokerParts.prefetch). */
  protected get prefetch(): number {
    if (this.prefetchCount === undefined) throw new Error('prefetch is known at the first reserve()');
    return this.prefetchCount;
  }

  /** The confirm channel to publish on, with `names.queue` declared on it. */
  protected async publishing(): Promise<ConfirmChannel> {
    const channel = await this.link.publishing();
    if (!this.declaredOn.has(channel)) {
      await declareMain(channel, this.names);
      this.declaredOn.add(channel);
    }
    return channel;
  }

  /**
   * Takes a delivery in: reserve() hands `raw` out from here. A redelivered message whose attempt is settled in
   * Redis already (its worker died between the result and the ack, or an ack came after its channel was lost) is
   * acked unrun instead; bytes that are not UTF-8 go to the dead-letter list.
   */
  protected hold(raw: string, delivery: Delivery): void {
    if (!this.link.isOpen(delivery.channel)) return;
    const at = firstInvalidUtf8(delivery.message.content);
    if (at >= 0) {
      void this.buryBytes(raw, delivery, at);
      return;
    }
    if (!delivery.message.fields.redelivered) {
      this.buffered(raw, delivery);
      return;
    }
    void this.settledBefore(raw).then(
      (settled) => {
        if (!this.link.isOpen(delivery.channel)) return;
        if (settled) delivery.channel.ack(delivery.message);
        else this.buffered(raw, delivery);
      },
      () => this.buffered(raw, delivery),
    );
  }

  /**
   * The delivery the worker holds as `raw` (the oldest, if it holds the same raw twice), no longer held after
   * this; undefined when it holds none, e.g. since its channel was lost.
   */
  protected take(raw: string): Delivery | undefined {
    const list = this.held.get(raw);
    if (!list) return undefined;
    const delivery = list.shift()!;
    if (list.length === 0) this.held.delete(raw);
    this.heldCount--;
    return this.link.isOpen(delivery.channel) ? delivery : undefined;
  }

  /** Drops every delivery of a channel, buffered or held. Returns how many there were. */
  protected forget(channel: Channel): number {
    const before = this.buffer.length + this.heldCount;
    this.buffer = this.buffer.filter((entry) => entry.delivery.channel !== channel);
    for (const [raw, list] of this.held) {
      const kept = list.filter((delivery) => delivery.channel !== channel);
      this.heldCount -= list.length - kept.length;
      if (kept.length === 0) this.held.delete(raw);
      else this.held.set(raw, kept);
    }
    return before - this.buffer.length - this.heldCount;
  }

  /** Stores a settled run's record and counts it, once per task id and attempt (lua/amqp-settle-2.lua). */
  protected async store(record: ResultRecord, encoded = JSON.stringify(record)): Promise<void> {
    const counter =
      record.state === 'SUCCESS' ? 'succeeded' : record.state === 'RETRY' ? 'retried' : 'failed';
    await this.scripts.run(
      'amqp-settle',
      [this.keys.result(record.id), this.keys.stats],
      [encoded, this.resultTtlSeconds, counter, record.attempt],
    );
  }

  // ---- the Broker contract ----------------------------------------------------------------------------------------

  async reserve(max: number, blockMs: number): Promise<string[]> {
    // The worker holds nothing at its first reserve, so `max` is its whole capacity: the prefetch to ask for.
    this.prefetchCount ??= max;
    await this.startConsuming();
    this.throwFailure();
    if (this.buffer.length === 0 && blockMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, blockMs);
        this.arrived = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.arrived = undefined;
    }
    this.throwFailure();
    const taken = this.buffer.splice(0, max);
    for (const { raw, delivery } of taken) {
      const list = this.held.get(raw);
      if (list) list.push(delivery);
      else this.held.set(raw, [delivery]);
      this.heldCount++;
    }
    return taken.map((entry) => entry.raw);
  }

  async schedule(raw: string, dueAt: number): Promise<void> {
    await this.publishDelayed([raw], dueAt - Date.now());
  }

  async retry(raw: string, nextRaw: string, dueAt: number, record: ResultRecord): Promise<boolean> {
    // Not held: the channel was lost and the message is back in the queue; its next run decides.
    if (!this.holds(raw)) return false;
    // The next attempt is confirmed before this one is settled: a crash in between runs this attempt again
    // (at least once), never loses the retry.
    await this.publishDelayed([nextRaw], dueAt - Date.now());
    await this.store(record);
    return this.settle(raw, (d) => d.channel.ack(d.message));
  }

  async bury(raw: string, reason: string): Promise<void> {
    if (!this.holds(raw)) return;
    await this.redis.lpush(this.keys.dead, JSON.stringify({ reason, raw, at: Date.now() }));
    this.settle(raw, (d) => d.channel.ack(d.message));
  }

  /** Gives a held message back to the delay queues until `dueAt`, unrun (an early message, a rate limit). */
  async defer(raw: string, dueAt: number): Promise<boolean> {
    if (!this.holds(raw)) return false;
    await this.publishDelayed([raw], dueAt - Date.now());
    return this.settle(raw, (d) => d.channel.ack(d.message));
  }

  async release(raws: string[]): Promise<number> {
    let released = 0;
    // requeue: back to the queue at once, for another consumer. (On a quorum queue this counts in
    // x-delivery-count like a death does: RabbitMQ 3.x cannot tell them apart.)
    for (const raw of raws) if (this.settle(raw, (d) => d.channel.nack(d.message, false, true))) released++;
    return released;
  }

  /** Nothing to recover: RabbitMQ requeues a dead consumer's messages itself, at once. */
  async recover(): Promise<number> {
    return 0;
  }

  /** No leases to renew: a message stays with its consumer for as long as its channel lives. */
  async extendLeases(_raws: string[]): Promise<void> {}

  /**
   * Relays the Redis outbox (the Redis waiting list: chord callbacks, chain links, beat ticks, hand-pushed
   * messages) to RabbitMQ, confirmed, then drops the claims (relay-take-2.lua). Delayed messages need no promotion
   * here: their delay queue dead-letters them to the main queue when due.
   */
  async promote(): Promise<number> {
    const relaying = queueKey(this.queueName, 'amqp', 'relaying');
    const taken = (await this.scripts.run(
      'relay-take',
      [this.keys.waiting, relaying],
      [Date.now(), RELAY_CLAIM_MS, RELAY_BATCH],
    )) as string[];
    if (taken.length === 0) return 0;
    await this.publish(this.names.queue, taken);
    await this.redis.zrem(relaying, ...taken);
    return taken.length;
  }

  /** Never over a SUCCESS or FAILURE (see mini-queue/lua/started-1.lua). */
  async started(record: ResultRecord): Promise<void> {
    await this.scripts.run(
      'started',
      [this.keys.result(record.id)],
      [JSON.stringify(record), this.resultTtlSeconds],
    );
  }

  async result(id: string): Promise<ResultRecord | undefined> {
    const raw = await this.redis.get(this.keys.result(id));
    return raw === null ? undefined : (JSON.parse(raw) as ResultRecord);
  }

  /**
   * waiting: ready in the main queue (a passive declare) plus the Redis outbox not relayed yet; active: what the
   * live consumers hold, as each last said (within ACTIVE_TTL_MS; a killed one's count lapses); delayed: ready in
   * the delay queues; the rest from Redis, as with the Redis transport.
   */
  async stats(): Promise<QueueStats> {
    const k = this.keys;
    const [ready, delayed] = await this.link.scratch(async (channel) => {
      const main = await channel.checkQueue(this.names.queue).then(
        (ok) => ok.messageCount,
        () => 0,
      );
      return [main, await this.delayedCount()] as const;
    });
    const replies = await this.redis
      .multi()
      .llen(k.waiting)
      .zcard(queueKey(this.queueName, 'amqp', 'relaying'))
      .hmget(k.stats, 'succeeded', 'failed')
      .llen(k.dead)
      .exec();
    const [outbox, relaying, counters, dead] = (replies ?? []).map(([error, value]) => {
      if (error) throw error;
      return value;
    }) as [number, number, Array<string | null>, number];
    return {
      waiting: ready + outbox + relaying,
      active: await this.activeCount(),
      delayed,
      succeeded: Number(counters[0] ?? 0),
      failed: Number(counters[1] ?? 0),
      dead,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.activeTimer);
    this.arrived?.();
    if (this.activeTimer) await this.redis.del(this.activeKey).catch(() => {});
    // Closing the connection gives back what was delivered here and not acked (the buffer included).
    await this.link.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  // ---- machinery ----------------------------------------------------------------------------------------------------

  private startConsuming(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the broker is closed'));
    if (!this.consuming) {
      const starting = this.link.consume({
        open: async (channel) => {
          await declareMain(channel, this.names);
          await this.consume(channel);
        },
        lost: (channel) => {
          try {
            this.channelLost(channel);
          } catch (error) {
            this.failure ??= error;
            this.arrived?.();
          }
        },
      });
      this.consuming = starting;
      starting.then(
        () => this.publishActive(),
        () => {
          // Not kept: the next reserve() tries again (or stops the worker, for a TODO not done).
          if (this.consuming === starting) this.consuming = undefined;
        },
      );
    }
    return this.consuming;
  }

  private throwFailure(): void {
    if (this.failure === undefined) return;
    const failure = this.failure;
    this.failure = undefined;
    throw failure;
  }

  private buffered(raw: string, delivery: Delivery): void {
    this.buffer.push({ raw, delivery });
    this.arrived?.();
  }

  private holds(raw: string): boolean {
    return this.held.get(raw)?.some((delivery) => this.link.isOpen(delivery.channel)) ?? false;
  }

  /** Takes the held delivery and settles it with `how` (ack, nack); false when not held or its channel is gone. */
  private settle(raw: string, how: (delivery: Delivery) => void): boolean {
    const delivery = this.take(raw);
    if (!delivery) return false;
    try {
      how(delivery);
      return true;
    } catch {
      // The channel closed under us: the server requeues the message.
      return false;
    }
  }

  /** Whether Redis holds a settled record (SUCCESS, FAILURE, RETRY) of this very attempt. */
  private async settledBefore(raw: string): Promise<boolean> {
    const decoded = decodeEnvelope(raw);
    if (!decoded.ok) return false;
    const current = await this.redis.get(this.keys.result(decoded.envelope.id));
    if (current === null) return false;
    try {
      const record = JSON.parse(current) as Partial<ResultRecord>;
      return record.attempt === decoded.envelope.attempt && SETTLED_STATES.has(String(record.state));
    } catch {
      return false;
    }
  }

  private async buryBytes(raw: string, delivery: Delivery, at: number): Promise<void> {
    const bytes = delivery.message.content;
    const reason = `not valid UTF-8: byte 0x${bytes[at]!.toString(16).padStart(2, '0')} at offset ${at}`;
    try {
      await this.redis.lpush(
        this.keys.dead,
        JSON.stringify({ reason, raw, rawBase64: bytes.toString('base64'), at: Date.now() }),
      );
      if (this.link.isOpen(delivery.channel)) delivery.channel.ack(delivery.message);
    } catch {
      // Unacked, it comes back with the channel's next loss, and is buried then.
    }
  }

  /** Publishes persistent messages to one queue and waits for RabbitMQ's confirms. */
  private async publish(queue: string, raws: string[]): Promise<void> {
    const channel = await this.publishing();
    for (const raw of raws) channel.sendToQueue(queue, Buffer.from(raw), { persistent: true });
    await channel.waitForConfirms();
  }

  /** Publishes to the delay queue of the bucket `ms` falls in (declared first when due), or now when not delayed. */
  private async publishDelayed(raws: string[], ms: number): Promise<void> {
    const bucket = delayBucket(ms);
    if (bucket === 0) return this.publish(this.names.queue, raws);
    const channel = await this.publishing();
    const name = this.names.delay(bucket);
    const now = Date.now();
    if (now - (this.delayDeclared.get(name) ?? 0) > REDECLARE_MS) {
      await declareDelay(channel, this.names, bucket);
      this.delayDeclared.set(name, now);
      // Remembered in Redis, so stats() can find the delay queues (AMQP cannot list queues).
      await this.redis.zadd(this.delaysKey, now + delayQueueLife(bucket), name);
    }
    return this.publish(name, raws);
  }

  private get delaysKey(): string {
    return queueKey(this.queueName, 'amqp', 'delays');
  }

  /** Messages waiting in this queue's delay queues; those that have expired are forgotten. */
  private async delayedCount(): Promise<number> {
    await this.redis.zremrangebyscore(this.delaysKey, '-inf', Date.now());
    let total = 0;
    for (const name of await this.redis.zrange(this.delaysKey, 0, -1)) {
      // A passive declare of a queue that is gone closes its channel (404): one scratch channel each.
      const count = await this.link
        .scratch((channel) => channel.checkQueue(name).then((ok) => ok.messageCount))
        .catch(() => undefined);
      if (count === undefined) await this.redis.zrem(this.delaysKey, name);
      else total += count;
    }
    return total;
  }

  private publishActive(): void {
    if (this.activeTimer || this.closed) return;
    const write = () => {
      // Delivered and not acked: handed to the worker, or waiting in the buffer for it.
      this.redis
        .set(this.activeKey, this.heldCount + this.buffer.length, 'PX', ACTIVE_TTL_MS)
        .catch(() => {});
    };
    write();
    this.activeTimer = setInterval(write, ACTIVE_EVERY_MS);
    this.activeTimer.unref();
  }

  private async activeCount(): Promise<number> {
    const pattern = queueKey(this.queueName, 'amqp', 'held', '*').replace(/[[\]?]/g, '\\$&');
    let cursor = '0';
    let total = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) for (const n of await this.redis.mget(keys)) total += Number(n ?? 0);
    } while (cursor !== '0');
    return total;
  }
}
