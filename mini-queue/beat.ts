import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { within } from './clock.ts';
import { createEnvelope, encodeEnvelope } from './envelope.ts';
import { errorMessage, UserError } from './errors.ts';
import { queueKey, queueKeys, validateQueueName } from './keys.ts';
import { labLua, PART_LABS, type Track } from './parts.ts';
import { connectRedis } from './redis/client.ts';
import { Scripts } from './redis/scripts.ts';
import type { Schedule } from './schedule.ts';

/**
 * Beat: enqueues the ticks of a schedule (Celery's `celery beat`). Several beats may run on one queue, for
 * availability; each tick is enqueued once, whichever beats are alive:
 *
 *   beat A ──tick 12:00:00.100──▶ beat-tick.lua: SET guard NX + LPUSH  ──▶ 1: enqueued
 *   beat B ──tick 12:00:00.100──▶ beat-tick.lua: guard is there        ──▶ 0: taken, nothing pushed
 *   beat C ──(kill -9)
 *
 * Every beat computes the same ticks (they are aligned to the clock, see schedule.ts) and tries every one; a
 * per-tick guard key, claimed and pushed in one Lua script, lets only the first try through. No beat is a
 * leader, so none is elected and none is waited for: killing one loses no tick while another runs (a lease
 * would lose the ticks between the leader's death and the lease running out). The script is lab 07's
 * (`<track>/07-coordination/lua/beat-tick-2.lua`).
 */

export interface BeatOptions {
  /** The checked entries (loadSchedule or checkSchedule). */
  schedule: Schedule[];
  /** Queue name. @default 'default' */
  queue?: string;
  /** Redis URL. @default REDIS_URL, the default address, or a private embedded Redis */
  url?: string;
  /** Where lab 07's Lua comes from. @default 'solutions' */
  track?: Track;
  /** Who this beat is, kept in the guard of each tick it enqueues. @default `<hostname>:<pid>` */
  id?: string;
}

/** What came of one try of one tick. */
export interface BeatTick {
  entry: string;
  task: string;
  /** The tick's time (epoch ms); also in the message's id. */
  tick: number;
  /** The message's id: `<entry>@<tick as ISO time>`. */
  id: string;
  /** `enqueued` by this beat; `taken`: another beat had enqueued it; `late`: refused, see beat-tick-2.lua. */
  outcome: 'enqueued' | 'taken' | 'late';
}

export interface BeatEvents {
  tick: [BeatTick];
  /** Something went wrong (Redis unreachable, clocks apart) and the beat carries on. */
  warning: [string];
}

/** The longest a beat sleeps at once: a clock set forward or back is noticed within it. */
const MAX_SLEEP_MS = 1000;
/** A beat that wakes late still tries the ticks it missed, if they are this recent (or one period, if longer). */
const CATCH_UP_MS = 2000;
/** Tries waiting for Redis at once, at most: past it (a Redis that hangs), ticks are dropped, with a warning. */
const MAX_IN_FLIGHT = 1000;

export class Beat extends EventEmitter<BeatEvents> {
  /** Settles when the beat has stopped; rejects when it had to stop on an error (a TODO not done, bad Lua). */
  readonly done: Promise<void>;
  /** Tries of this beat so far, by outcome; `failed`: Redis could not be asked. */
  readonly counts = { enqueued: 0, taken: 0, late: 0, failed: 0 };
  readonly queue: string;
  readonly id: string;
  private stopping = false;
  private fatal: Error | undefined;
  private wakeUp: (() => void) | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  /** Failures since the last try that reached Redis: warned about once, and once more when they end. */
  private failing = 0;
  private warnedLate = false;

  private constructor(
    private readonly redis: Redis,
    private readonly scripts: Scripts,
    readonly schedule: Schedule[],
    queue: string,
    id: string,
  ) {
    super();
    this.queue = queue;
    this.id = id;
    this.done = this.run();
  }

  static async start(options: BeatOptions): Promise<Beat> {
    const queue = validateQueueName(options.queue ?? 'default');
    if (options.schedule.length === 0) throw new UserError('a beat needs at least one schedule entry');
    const track = options.track ?? 'solutions';
    const lua = labLua(track, PART_LABS.coordination);
    if (!existsSync(new URL('beat-tick-2.lua', lua))) {
      throw new UserError(
        `${track}/${PART_LABS.coordination}/lua/ has no beat-tick-2.lua (beat's once-per-tick guard)`,
      );
    }
    // A producer's connection: while Redis is down a try fails at once instead of piling up, and is counted.
    const redis = await connectRedis({ url: options.url, name: `mq:${queue}:beat`, failFast: true });
    const scripts = new Scripts(redis, [lua]);
    return new Beat(redis, scripts, options.schedule, queue, options.id ?? `${hostname()}:${process.pid}`);
  }

  /** Stops ticking, lets the tries already sent finish (2 s at most), and closes. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeUp?.();
    await this.done.catch(() => {});
  }

  private async run(): Promise<void> {
    const started = Date.now();
    // The first tick of each entry is the first one after the start: a beat does not enqueue the past.
    const next = new Map(this.schedule.map((entry) => [entry, entry.next(started)]));
    try {
      while (!this.stopping) {
        const now = Date.now();
        for (const [entry, due] of next) next.set(entry, this.tickUpTo(entry, due, now));
        const wake = Math.min(...next.values());
        await this.sleep(Math.min(Math.max(0, wake - Date.now()), MAX_SLEEP_MS));
      }
      await within(Promise.allSettled([...this.inFlight]), 2000);
    } finally {
      // QUIT waits for Redis's answer: a Redis that hangs must not hang the beat's exit.
      await within(
        this.redis.quit().catch(() => {}),
        1000,
      );
      this.redis.disconnect();
    }
    if (this.fatal) throw this.fatal;
  }

  /** Tries every tick of `entry` from `due` up to `now`, the recent ones only; returns the next one to try. */
  private tickUpTo(entry: Schedule, due: number, now: number): number {
    const oldest = now - Math.max(CATCH_UP_MS, entry.periodMs);
    // Asleep for long (a suspended laptop): the ticks before `oldest` were another beat's, or nobody's.
    let tick = due < oldest ? entry.next(oldest - 1) : due;
    for (; tick <= now; tick = entry.next(tick)) this.fire(entry, tick, now);
    return tick;
  }

  private fire(entry: Schedule, tick: number, now: number): void {
    if (this.inFlight.size >= MAX_IN_FLIGHT) {
      this.failed(`${MAX_IN_FLIGHT} ticks are waiting for Redis already`);
      return;
    }
    const id = `${entry.name}@${new Date(tick).toISOString()}`;
    const raw = encodeEnvelope(createEnvelope(entry.task, entry.args, { ...entry.options, id }));
    // The guard outlives every try of this tick: a beat tries it until CATCH_UP_MS (or a period) after it is due,
    // and a try that reaches Redis later than this is refused, not enqueued (beat-tick-2.lua).
    const keepUntil = tick + 2 * Math.max(CATCH_UP_MS, entry.periodMs) + 10_000;
    const guard = queueKey(this.queue, 'beat', entry.name, tick);
    const sent = this.scripts
      .run('beat-tick', [guard, queueKeys(this.queue).waiting], [raw, this.id, keepUntil])
      .then((reply) =>
        this.settled({ entry: entry.name, task: entry.task, tick, id, outcome: outcome(reply) }),
      )
      .catch((error: unknown) => {
        // A TODO not done, a script that does not run or answers nonsense: the same every tick. Stop, say why.
        if (error instanceof UserError) {
          this.fatal ??= error;
          this.stopping = true;
          this.wakeUp?.();
        } else this.failed(`tick ${id} (due ${now - tick} ms ago) not enqueued: ${errorMessage(error)}`);
      })
      .finally(() => this.inFlight.delete(sent));
    this.inFlight.add(sent);
  }

  private settled(tick: BeatTick): void {
    if (this.failing > 0) {
      this.emit('warning', `enqueuing again, after ${this.failing} tick(s) that could not be sent`);
      this.failing = 0;
    }
    this.counts[tick.outcome]++;
    if (tick.outcome === 'late' && !this.warnedLate) {
      this.warnedLate = true;
      this.emit(
        'warning',
        `tick ${tick.id} reached Redis too late to be enqueued safely: is this machine's clock behind Redis's?`,
      );
    }
    this.emit('tick', tick);
  }

  private failed(why: string): void {
    this.counts.failed++;
    if (this.failing++ === 0) this.emit('warning', why);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }
}

function outcome(reply: unknown): BeatTick['outcome'] {
  if (reply === 1) return 'enqueued';
  if (reply === 0) return 'taken';
  if (reply === -1) return 'late';
  throw new UserError(`beat-tick-2.lua must return 1, 0 or -1, got ${JSON.stringify(reply)}`);
}
