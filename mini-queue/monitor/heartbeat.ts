import type { Redis } from 'ioredis';
import { encodeBeat } from './codec.ts';
import { type WorkerBeat, workerKey, workersKey } from './types.ts';

/** The default time between two beats, ms. A worker's record expires 3 intervals after its last one. */
export const BEAT_INTERVAL_MS = 1000;
/**
 * The index (`mq:{q}:workers`) expires this long after the last beat of any worker, at least: so a queue whose
 * workers all died does not keep an index for ever when nobody reads it (readers prune it as they read).
 */
const INDEX_TTL_MIN_MS = 60_000;

/**
 * A worker's heartbeat: its record written every `intervalMs` (unref'd timer, never keeping a process alive),
 * with a TTL of 3 intervals, and its id in the queue's index. The record and the index entry go in one
 * MULTI: a reader never sees an id whose first record is still on its way, and so never prunes a worker being
 * born. A beat still unanswered (Redis down) is not followed by another: beats do not pile up in the offline queue.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private stopped = false;
  readonly ttlMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly queue: string,
    private readonly id: string,
    private readonly snapshot: () => WorkerBeat,
    readonly intervalMs = BEAT_INTERVAL_MS,
    private readonly onBeat: () => void = () => {},
  ) {
    if (!Number.isInteger(intervalMs) || intervalMs < 10) {
      throw new RangeError(`heartbeat interval must be an integer >= 10 ms, got ${intervalMs}`);
    }
    this.ttlMs = 3 * intervalMs;
  }

  /** Writes the first beat (so `inspect` sees the worker as soon as it has started) and starts the timer. */
  async start(): Promise<void> {
    await this.beat();
    if (this.stopped) return;
    this.timer = setInterval(() => {
      if (this.beating === undefined) void this.beat();
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Stops beating and removes the record: a worker that stops cleanly is gone at once, not after its TTL. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.beating;
    await this.redis
      .multi()
      .del(workerKey(this.queue, this.id))
      .zrem(workersKey(this.queue), this.id)
      .exec()
      .catch(() => {});
  }

  private beat(): Promise<void> {
    const beat = this.snapshot();
    const index = workersKey(this.queue);
    this.beating = this.redis
      .multi()
      .set(workerKey(this.queue, this.id), encodeBeat(beat), 'PX', this.ttlMs)
      .zadd(index, beat.beatAt, this.id)
      .pexpire(index, Math.max(INDEX_TTL_MIN_MS, this.ttlMs))
      .exec()
      .then(
        () => this.onBeat(),
        // A beat that fails is skipped: the next tries again, and the worker's own outage report says why.
        () => {},
      )
      .finally(() => {
        this.beating = undefined;
      });
    return this.beating;
  }
}
