import type { Redis } from 'ioredis';
import { isCluster } from '../redis/cluster.ts';
import { writeEvent } from './encode-event.ts';
import { eventsChannel, type TaskEventType } from './types.ts';

/**
 * A worker's task events, batched: every event of one turn of the event loop goes out in one PUBLISH, at the
 * check phase (setImmediate), after the I/O callbacks that settled that turn's tasks. So a burst of 50 acks costs
 * one JSON encoding and one command, not 150, and events stay in order (one array, one connection).
 *
 * Nobody listening, nothing is encoded or sent: `listening` is asked of Redis (PUBSUB NUMSUB for the channel,
 * NUMPAT for pattern subscribers such as the dashboard's `mq:{*}:events`) at start and at every `refresh()` (the
 * worker's heartbeat), and a PUBLISH that reached nobody turns it off until the next refresh. A subscriber that
 * comes later misses at most one interval. On a cluster, where PUBSUB sees one node, it always publishes.
 *
 * Events arrive here as JSON text already (encode-event.ts writes each from parts encoded once per message), and a
 * batch is their join: JSON.stringify of 150 small objects a turn cost more than the no-op tasks they describe.
 */
export class EventPublisher {
  /** This turn's events as JSON pieces (encode-event.ts), joined once at the flush. */
  private parts: string[] = [];
  private count = 0;
  private closed = false;
  /** Someone subscribed to this queue's events (or to a pattern) when last asked. */
  listening: boolean;
  private readonly channel: string;
  private readonly head: string;

  constructor(
    private readonly redis: Redis,
    queue: string,
    worker: string,
  ) {
    this.channel = eventsChannel(queue);
    this.head = `{"worker":${JSON.stringify(worker)},"at":`;
    this.listening = isCluster(redis);
  }

  /**
   * Queues one event for this turn's batch, from its parts (see writeEvent): the worker's hot path. Callers check
   * `listening` first, to encode nothing in vain.
   */
  write(
    type: TaskEventType,
    head: string,
    at: number,
    lane?: string,
    runtimeMs?: number,
    error?: string,
  ): void {
    if (this.closed || !this.listening) return;
    if (this.count++ === 0) setImmediate(this.flush);
    else this.parts.push(',');
    writeEvent(this.parts, type, head, at, lane, runtimeMs, error);
  }

  /** Queues one event already encoded: a TaskEvent as JSON (JSON.stringify of one, or encodeEvent). */
  push(json: string): void {
    if (this.closed || !this.listening) return;
    if (this.count++ === 0) setImmediate(this.flush);
    else this.parts.push(',');
    this.parts.push(json);
  }

  /** Asks Redis whether anyone listens. Never rejects: in doubt, the last answer stands. */
  async refresh(): Promise<void> {
    if (isCluster(this.redis) || this.closed) return;
    try {
      const [subs, patterns] = await Promise.all([
        this.redis.pubsub('NUMSUB', this.channel) as Promise<[string, number]>,
        this.redis.pubsub('NUMPAT') as Promise<unknown>,
      ]);
      this.listening = Number(subs[1]) > 0 || Number(patterns) > 0;
    } catch {}
  }

  /** Sends what is pending now and publishes nothing more. */
  close(): void {
    this.flush();
    this.closed = true;
  }

  private readonly flush = (): void => {
    if (this.count === 0) return;
    // Redis unreachable: drop the batch. Queued, the batches of a long outage would pile up in memory, to be sent
    // late to subscribers that pub/sub would not have kept them for anyway.
    if (this.redis.status !== 'ready') {
      this.parts = [];
      this.count = 0;
      return;
    }
    // An EventBatch: { worker, at, events }, in one allocation.
    const parts = this.parts;
    parts.unshift(this.head, String(Date.now()), ',"events":[');
    parts.push(']}');
    this.parts = [];
    this.count = 0;
    this.redis.publish(this.channel, parts.join('')).then(
      (reached) => {
        // Only a pattern subscriber for other channels (NUMPAT counts every pattern): stop until the next refresh.
        if (reached === 0 && !isCluster(this.redis)) this.listening = false;
      },
      () => {},
    );
  };
}
