import type { Redis } from 'ioredis';
import { isCluster } from '../redis/cluster.ts';
import { EventBatchBuilder, type EventRef, wireHead } from './batch-builder.ts';
import { eventsChannel, type TaskEvent, type TaskEventType } from './types.ts';

/**
 * A worker's task events, batched: at most one PUBLISH every `flushMs`, at the check phase (setImmediate) of the
 * turn that reaches it, after the I/O callbacks that settled that turn's tasks; the first event after a quiet
 * spell goes out in its own turn. Events stay in order (one batch, one connection). Not once per turn, as they
 * were: a busy event-loop worker settles ~50 tasks a turn, so that was a PUBLISH (a socket write, a reply to
 * read) per 50 tasks; at 50 ms it is one per ~1,000 at bench speed, and a task's received, started and succeeded
 * mostly share a batch, so they travel as one record (82 bytes a no-op task, from 380). The dashboard shows an
 * event within its own tick (100 ms) after that: 150 ms, inside the 250 it promises.
 *
 * Nobody listening, nothing is encoded or sent: `listening` is asked of Redis (PUBSUB NUMSUB for the channel,
 * NUMPAT for pattern subscribers such as the dashboard's `mq:{*}:events`) at start and at every `refresh()` (the
 * worker's heartbeat), and a PUBLISH that reached nobody turns it off until the next refresh. A subscriber that
 * comes later misses at most one interval. On a cluster, where PUBSUB sees one node, it always publishes.
 *
 * The batch is a WireBatch (./types.ts): a task's events of one turn collapsed into one record, written as bytes
 * with nothing allocated per event (batch-builder.ts).
 */
/** EventPublisher's `flushMs`. */
export const FLUSH_MS = 50;

export class EventPublisher {
  private readonly batch = new EventBatchBuilder();
  private closed = false;
  /** performance.now() of the last flush, and its timer while one waits. */
  private flushedAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  /** Someone subscribed to this queue's events (or to a pattern) when last asked. */
  listening: boolean;
  private readonly channel: string;
  private readonly head: string;

  constructor(
    private readonly redis: Redis,
    queue: string,
    worker: string,
    /** The shortest time between two PUBLISHes, ms. */
    private readonly flushMs = FLUSH_MS,
  ) {
    this.channel = eventsChannel(queue);
    this.head = wireHead(worker);
    this.listening = isCluster(redis);
  }

  /**
   * Queues one event of `ref`'s task for this turn's batch: the worker's hot path. Pass the same ref for every
   * event of a run (the worker's MonitorRun), so that a turn's events of one task collapse into one record.
   * Callers check `listening` first, to work out nothing in vain.
   */
  write(
    type: TaskEventType,
    ref: EventRef,
    at: number,
    lane?: string,
    runtimeMs?: number,
    error?: string,
  ): void {
    if (this.closed || !this.listening) return;
    if (this.batch.size === 0) this.schedule();
    this.batch.add(type, ref, at, lane, runtimeMs, error);
  }

  /** Queues one event given whole (a load generator's; a worker uses write). */
  push(event: TaskEvent): void {
    this.write(
      event.type,
      { id: event.id, task: event.task, attempt: event.attempt },
      event.at,
      event.lane,
      event.runtimeMs,
      event.error,
    );
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
    clearTimeout(this.timer);
    this.flush();
    this.closed = true;
  }

  private schedule(): void {
    const wait = this.flushedAt + this.flushMs - performance.now();
    if (wait <= 0) setImmediate(this.flush);
    else {
      // Unref'd: a worker that stops calls close(), which sends what waits.
      this.timer = setTimeout(this.flush, wait);
      this.timer.unref();
    }
  }

  private readonly flush = (): void => {
    this.timer = undefined;
    if (this.batch.size === 0) return;
    this.flushedAt = performance.now();
    // Redis unreachable: drop the batch. Queued, the batches of a long outage would pile up in memory, to be sent
    // late to subscribers that pub/sub would not have kept them for anyway.
    if (this.redis.status !== 'ready') {
      this.batch.clear();
      return;
    }
    this.redis.publish(this.channel, this.batch.take(this.head, Date.now())).then(
      (reached) => {
        // Only a pattern subscriber for other channels (NUMPAT counts every pattern): stop until the next refresh.
        if (reached === 0 && !isCluster(this.redis)) this.listening = false;
      },
      () => {},
    );
  };
}
