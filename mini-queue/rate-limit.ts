import { existsSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Broker } from './broker.ts';
import { within } from './clock.ts';
import { canDefer } from './early.ts';
import { errorMessage, UserError } from './errors.ts';
import { queueKey } from './keys.ts';
import { labLua, PART_LABS, type Track } from './parts.ts';
import { type RateLimit, rateInterval } from './rate.ts';
import { connectRedis } from './redis/client.ts';
import { Scripts } from './redis/scripts.ts';
import { type TaskRegistry, taskNames, taskOptions, unknownTaskMessage } from './tasks.ts';

/**
 * Rate limits per task name, shared by every worker on the queue (Celery counts `rate_limit` in each worker, so
 * three workers run a '10/s' task 30 times a second; here they run it 10 times).
 *
 *   worker ──take(task, id)──▶ rate-limit-2.lua (Redis's clock) ──▶ 0: run it now
 *                                                               └─▶ n ms: its start is booked n ms from now
 *   booked: defer(message, now + n) ──▶ [ delayed ] ──promote at n──▶ [ waiting ] ──▶ any worker: take() = 0, run
 *
 * A message over the limit goes back to the delayed set, unrun, and its worker's slot is free for other tasks at
 * once: nothing polls, nothing sleeps in a slot. The script is lab 07's
 * (`<track>/07-coordination/lua/rate-limit-2.lua`).
 */
export class RateLimiter {
  /** Promotions set for when a deferred message is due (see deferUntil). */
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly redis: Redis,
    private readonly scripts: Scripts,
    private readonly queue: string,
    /** Task name -> ms between two starts. */
    private readonly intervals: ReadonlyMap<string, number>,
  ) {}

  /**
   * A limiter for the tasks that have a limit (`defineTasks` options, then `overrides`), or undefined when none
   * has one: then the worker asks nothing, and an unlimited task costs nothing.
   */
  static async open(options: {
    registry: TaskRegistry;
    overrides?: Record<string, RateLimit>;
    queue: string;
    url?: string;
    track?: Track;
  }): Promise<RateLimiter | undefined> {
    const intervals = limitsOf(options.registry, options.overrides ?? {});
    if (intervals.size === 0) return undefined;
    const track = options.track ?? 'solutions';
    const lua = labLua(track, PART_LABS.coordination);
    if (!existsSync(new URL('rate-limit-2.lua', lua))) {
      throw new UserError(
        `${track}/${PART_LABS.coordination}/lua/ has no rate-limit-2.lua (the rate limiter)`,
      );
    }
    const redis = await connectRedis({ url: options.url, name: `mq:${options.queue}:rate-limit` });
    return new RateLimiter(redis, new Scripts(redis, [lua]), options.queue, intervals);
  }

  /** The ms between two starts of `task`, or undefined when it has no limit. */
  intervalOf(task: string): number | undefined {
    return this.intervals.get(task);
  }

  /** Asks for a start of `task` for message `id`: 0 to start now, else the ms until the start booked for it. */
  async take(task: string, interval: number, id: string): Promise<number> {
    const wait = await this.scripts.run(
      'rate-limit',
      [queueKey(this.queue, 'rate', task), queueKey(this.queue, 'rate-booked', task)],
      [interval, id],
    );
    if (typeof wait !== 'number' || !Number.isInteger(wait) || wait < 0) {
      throw new UserError(
        `rate-limit-2.lua must return 0 or a number of ms > 0, got ${JSON.stringify(wait)}`,
      );
    }
    return wait;
  }

  /**
   * Gives a held message back to the delayed set for `ms`, unrun, and moves it to waiting when it is due: the
   * worker's own promotion runs once a second, which would bunch a second's starts together.
   */
  async deferUntil(broker: Broker, raw: string, ms: number): Promise<void> {
    if (!canDefer(broker))
      throw new UserError('rate limits need a broker with defer() (built on BrokerBase)');
    await broker.defer(raw, Date.now() + ms);
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        broker.promote().catch(() => {
          // The next maintenance promotes it; a worker stopping has closed the broker.
        });
        // Past Node's longest timer (24.8 days) it would fire at once: the worker's maintenance promotes it then.
      },
      Math.min(ms, 2 ** 31 - 1),
    );
    timer.unref();
    this.timers.add(timer);
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    // QUIT waits for Redis's answer: a Redis that hangs must not hang the worker's stop.
    await within(
      this.redis.quit().catch(() => {}),
      1000,
    );
    this.redis.disconnect();
  }
}

/** Task name -> ms between starts: the registry's `rateLimit`s, then `overrides`; a UserError names a bad one. */
export function limitsOf(registry: TaskRegistry, overrides: Record<string, RateLimit>): Map<string, number> {
  const intervals = new Map<string, number>();
  for (const name of taskNames(registry)) {
    const limit = taskOptions(registry, name)?.rateLimit;
    if (limit !== undefined) intervals.set(name, rateInterval(limit));
  }
  for (const [name, limit] of Object.entries(overrides)) {
    if (!taskNames(registry).includes(name)) {
      throw new UserError(`a rate limit for ${unknownTaskMessage(name, registry)}`);
    }
    try {
      intervals.set(name, rateInterval(limit));
    } catch (error) {
      throw new UserError(`rate limit of '${name}': ${errorMessage(error)}`);
    }
  }
  return intervals;
}
