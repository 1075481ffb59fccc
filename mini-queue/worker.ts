import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import type { Broker, ResultRecord } from './broker.ts';
import { within } from './clock.ts';
import { Coordination } from './coordination.ts';
import { holdIfEarly } from './early.ts';
import { decodeEnvelope, type Envelope, encodeEnvelope } from './envelope.ts';
import { errorMessage, NotImplemented, todoIn, UserError } from './errors.ts';
import { type FastBroker, isFastBroker } from './fast-broker.ts';
import { type MonitorRun, WorkerMonitor } from './monitor/worker-monitor.ts';
import { openBroker, type Track, workerPoolFactory } from './parts.ts';
import { POOL_BROKEN, type Pool, type PoolKind, type TaskCall, type TaskOutcome } from './pool.ts';
import type { RateLimit } from './rate.ts';
import { RateLimiter } from './rate-limit.ts';
import { resolveRedisUrl } from './redis/resolve.ts';
import { RedisWatch } from './redis/watch.ts';
import { EXAMPLE_TASKS_PATH, loadTasks, lookupTask, type TaskRegistry, unknownTaskMessage } from './tasks.ts';
import { readable } from './undecodable.ts';
import { LoopWatchdog } from './watchdog/client.ts';

export interface WorkerOptions {
  /** Queue name. @default 'default' */
  queue?: string;
  /** Redis URL. @default REDIS_URL, the default address, or a private embedded Redis */
  url?: string;
  /** The execution model. @default 'solo' */
  pool?: PoolKind;
  /** How many tasks run at once. @default 1 for solo, else the machine's cores */
  concurrency?: number;
  /**
   * Run the pool (event-loop or coroutines only) in this many child processes, each with its share of
   * `concurrency`: I/O-bound tasks past what one event loop can drive (mini-queue/pools/multi-process.ts). The
   * watchdog stays off here: the pool kills a child whose event loop a task blocks past its time limit.
   * @default undefined (the pool runs in this process)
   */
  processes?: number;
  /** The tasks module (`export default defineTasks({...})`). @default the kit's example tasks */
  tasksPath?: string;
  /**
   * Where the lab-built parts come from: the broker (lab 00), the pool (labs 01-05), the chord join and the rate
   * limiter's Lua (lab 07); one track for all, or one each. @default 'solutions'
   */
  track?: Track | { broker?: Track; pool?: Track; coordination?: Track };
  /**
   * Rate limits by task name, over those the tasks module declares (`defineTasks(tasks, { fib: { rateLimit } })`):
   * `{ fib: '10/s' }`. Shared by every worker on the queue; see mini-queue/rate-limit.ts.
   */
  rateLimits?: Record<string, RateLimit>;
  /**
   * The fast path, for a broker that has one (a FastBroker: every broker built on BrokerBase): what is ready
   * comes in one Lua script per batch (`reserveReady`), and the broker's own `reserve()` only waits when nothing
   * is; a slot counts as free as soon as its ack is sent; a result is JSON-encoded once. Off, every message
   * comes through `reserve()`, which is what a lab's broker must be run (and graded) on. `npx tsx mini-queue
   * worker` turns it on for the reference broker. @default false
   */
  fastPath?: boolean;
  /**
   * Messages reserved per free slot, like Celery's worker_prefetch_multiplier. 1 means a worker holds only what
   * it runs, so a long task never sits behind another in a busy worker's buffer. @default 1
   */
  prefetchMultiplier?: number;
  /** A reserved message comes back to the queue this long after its worker stops renewing it, ms. @default 30000 */
  visibilityMs?: number;
  /** Longest wait in one BLMOVE; also bounds how fast a warm shutdown notices. @default 1000 */
  blockMs?: number;
  /** First retry delay, doubled on each attempt, with jitter, ms. @default 1000 */
  retryBackoffMs?: number;
  /**
   * A task whose worker died this many times while running it (its message came back that often) fails with
   * WorkerLost instead of being tried again: one poison task must not kill workers forever. @default 2
   */
  maxRedeliveries?: number;
  /**
   * Options only the prefork pool takes (lab 05): recycle a child after this many tasks (Celery's
   * `max_tasks_per_child`), and run a killed child's task once more on its replacement (`reject_on_worker_lost`).
   */
  prefork?: { maxTasksPerChild?: number; rejectOnWorkerLost?: boolean };
  /**
   * The hard time limit of the pools that run tasks on this thread (solo, event-loop, coroutines): a thread that
   * watches this one and, when a task has blocked it for a second past its `timeout`, records that task as
   * FAILURE (TimeLimitExceeded, not retried), gives the other held messages back and kills this process with
   * SIGKILL, for a supervisor to restart (see mini-queue/watchdog/client.ts). Off, such a task hangs the process,
   * and each worker its message goes to after. @default true
   */
  watchdog?: boolean;
  /**
   * Publish task events (received, started, succeeded, failed, retried, lost) on `mq:{queue}:events`, for the
   * dashboard; batched, at most one PUBLISH per 50 ms, and nothing built while nobody subscribes. The
   * heartbeat (`mq:{queue}:worker:<id>`, read by `inspect`) is written either way. See mini-queue/monitor/.
   * @default true
   */
  events?: boolean;
  /** How often the heartbeat is written, ms; the record expires after 3 of these. @default 1000 */
  heartbeatMs?: number;
}

/** The pools that run tasks on the worker's own thread, where only a watchdog thread can enforce a time limit. */
const ON_THIS_THREAD: readonly PoolKind[] = ['solo', 'event-loop', 'coroutines'];

/** A message this worker holds. */
/** A task handed to the pool, for its STARTED record (Worker.noteStarted). */
interface Starting {
  envelope: Envelope;
  startedAt: number;
  /** Settled already: no STARTED, its ack says more. */
  over: boolean;
}

interface Held {
  raw: string;
  /** Once decoded: what the monitor follows of it (mini-queue/monitor/worker-monitor.ts). */
  run?: MonitorRun;
  settled: Promise<void>;
  /** Its ack (or retry) has been sent; see Stream.acking. */
  acking: boolean;
  /** The reserve loop that took it. */
  stream: Stream;
}

/**
 * One reserve loop and what it holds. A worker has one, or on the fast path with 8 slots or more two, each for
 * half the slots and each with a broker (so a Redis connection) of its own.
 *
 * Why two: one loop sends its acks and its next reserve in one write, waits for Redis, then runs the batch that
 * came back, so the worker and Redis take turns and each is idle while the other works (a no-op: ~18-21 µs of
 * worker, then ~11-13 µs of Redis, in turn). With two loops on two connections, one batch runs while the other's
 * round trip is in Redis: 37,000-44,000 no-ops/s went to 55,000-63,000 on 2 cores (2026-11-29, interleaved). Over
 * one connection the two loops' round trips travel together and fall back into step: no gain was measured.
 */
interface Stream {
  /** The messages it may hold at once. */
  capacity: number;
  inFlight: number;
  /**
   * Held messages whose ack (or retry) is already on its way to Redis, on the connection its reserves use. Redis
   * runs that ack before any reserve sent after it, so their slots can be filled now, and the next batch rides in
   * the same pipelined write as the acks instead of one round trip behind them. Fast path only.
   */
  acking: number;
  /** Its broker on the fast path (the worker's own for the first loop); undefined off it. */
  fast: FastBroker | undefined;
  /** The first loop alone waits in the broker's blocking reserve when nothing is ready. */
  first: boolean;
}

/** One task run, as every timeline and speedup figure sees it. */
export interface TaskRun {
  id: string;
  task: string;
  state: 'SUCCESS' | 'FAILURE' | 'RETRY';
  attempt: number;
  lane: string;
  enqueuedAt: number;
  startedAt: number;
  finishedAt: number;
  error?: string;
}

export interface WorkerEvents {
  /** A task run ended (any state). */
  task: [TaskRun];
  /** A message could not be handled at all and went to the dead-letter list. */
  dead: [{ raw: string; reason: string }];
  /** A task over its rate limit went back to the delayed set, unrun, until the start booked for it. */
  limited: [{ id: string; task: string; waitMs: number }];
  /** Something went wrong around the tasks (Redis, the pool) and the worker carries on. */
  warning: [string];
}

const MAINTENANCE_MAX_MS = 1000;
/** The worker says so when Redis has been unreachable this long (and again when it is back). */
const OUTAGE_REPORT_MS = 3000;
/** A cold stop waits this long to give back what it holds; Redis unreachable, the leases bring it back. */
const RELEASE_MAX_MS = 2000;

/**
 * A worker: a broker and a pool, composed.
 *
 *   reserve (while slots are free) ──▶ validate ──▶ pool.run ──▶ ack | retry | bury
 *   every ~second: renew the leases of what runs here, give back expired ones, promote due delayed tasks
 */
export class Worker extends EventEmitter<WorkerEvents> {
  /** Settles when the worker has stopped; rejects if it had to stop on a fatal error. */
  readonly done: Promise<void>;
  private stopping = false;
  /** What this worker holds, by a local sequence number (the same raw can arrive twice after a redelivery). */
  private readonly inFlight = new Map<number, Held>();
  private streams: Stream[] = [];
  private sequence = 0;
  /** Tasks started in this turn of the event loop, whose STARTED record waits for the next (noteStarted). */
  private startedThisTurn: Starting[] = [];
  /** The reserve loops waiting for a slot to free (see wake()). */
  private slotFreed: Array<() => void> = [];
  private maintenance: NodeJS.Timeout | undefined;
  private fatal: Error | undefined;
  /** After a cold stop, tasks still finishing in this process find their messages given back: stay quiet. */
  private cold = false;
  private coldStopped: () => void = () => {};
  private readonly coldStop = new Promise<void>((resolve) => {
    this.coldStopped = resolve;
  });
  /**
   * After a cold stop: how many held messages went back to waiting at once; undefined when Redis could not be
   * told in time (they come back when their leases run out).
   */
  released: number | undefined;

  private constructor(
    readonly broker: Broker,
    readonly pool: Pool,
    private readonly registry: TaskRegistry,
    private readonly settings: Required<
      Pick<WorkerOptions, 'prefetchMultiplier' | 'blockMs' | 'retryBackoffMs' | 'maxRedeliveries'>
    > & {
      maintenanceMs: number;
      /** The same broker when the fast path is on (WorkerOptions.fastPath), else undefined. */
      fast: FastBroker | undefined;
      /** The second reserve loop's broker (see Stream), when the fast path has one. */
      second: FastBroker | undefined;
      /** Enforces time limits on this thread (WorkerOptions.watchdog), for the pools that run tasks here. */
      watchdog: LoopWatchdog | undefined;
      /** Chord joins and chain links (canvas); connects at the first message that has one. */
      coordination: Coordination;
      /** Undefined when no task has a rate limit. */
      limiter: RateLimiter | undefined;
      /** The heartbeat and task events (mini-queue/monitor/). */
      monitor: WorkerMonitor;
    },
  ) {
    super();
    this.done = this.run();
  }

  /** Loads the tasks, connects the broker, starts the pool and begins consuming. */
  static async start(options: WorkerOptions = {}): Promise<Worker> {
    const tracks =
      typeof options.track === 'object'
        ? options.track
        : { broker: options.track, pool: options.track, coordination: options.track };
    const kind = options.pool ?? 'solo';
    const concurrency = options.concurrency ?? (kind === 'solo' ? 1 : availableParallelism());
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000) {
      throw new UserError(`concurrency must be an integer from 1 to 10000, got ${concurrency}`);
    }
    const prefetchMultiplier = options.prefetchMultiplier ?? 1;
    if (!Number.isInteger(prefetchMultiplier) || prefetchMultiplier < 1) {
      throw new UserError(`prefetchMultiplier must be an integer >= 1, got ${prefetchMultiplier}`);
    }
    const tasksPath = options.tasksPath ?? EXAMPLE_TASKS_PATH;
    const registry = await loadTasks(tasksPath);
    const createPool = await workerPoolFactory(kind, tracks.pool, options.processes);
    const visibilityMs = options.visibilityMs ?? 30_000;
    const watch = new RedisWatch();
    const broker = await openBroker({ queue: options.queue, url: options.url, visibilityMs }, tracks.broker, {
      watch,
    });
    // A second reserve loop, on a broker of its own (see Stream): for the fast path with 8 slots or more.
    let second: FastBroker | undefined;
    if (options.fastPath && isFastBroker(broker) && concurrency * prefetchMultiplier >= 8) {
      const opened = await openBroker(
        { queue: options.queue, url: options.url, visibilityMs },
        tracks.broker,
        {
          watch,
        },
      ).catch(async (error: unknown) => {
        await broker.close();
        throw error;
      });
      second = opened as FastBroker;
    }
    const closeBrokers = () => Promise.all([broker.close(), second?.close()]);
    if (options.fastPath && !isFastBroker(broker)) {
      await broker.close();
      throw new UserError(
        `fastPath needs a broker with reserveReady() (a FastBroker, see mini-queue/fast-broker.ts); the broker of track '${tracks.broker ?? 'solutions'}' has none: build it on BrokerBase or leave fastPath off`,
      );
    }
    let limiter: RateLimiter | undefined;
    let pool: Pool;
    try {
      limiter = await RateLimiter.open({
        registry,
        overrides: options.rateLimits,
        queue: options.queue ?? 'default',
        url: options.url,
        track: tracks.coordination,
      });
      pool = await createPool({
        concurrency,
        tasksPath,
        registry,
        ...(kind === 'prefork' ? options.prefork : {}),
      });
    } catch (error) {
      await limiter?.close();
      await closeBrokers();
      throw error;
    }
    let monitor: WorkerMonitor;
    let built: Worker | undefined;
    try {
      monitor = await WorkerMonitor.start({
        queue: options.queue ?? 'default',
        url: options.url,
        pool,
        ...(options.processes === undefined ? {} : { processes: options.processes }),
        events: options.events ?? true,
        ...(options.heartbeatMs === undefined ? {} : { intervalMs: options.heartbeatMs }),
        // Its first beat is written before the worker exists: nothing held yet.
        holding: () => built?.holding ?? 0,
      });
    } catch (error) {
      await pool.terminate?.().catch(() => {});
      await pool.close().catch(() => {});
      await limiter?.close();
      await closeBrokers();
      throw error;
    }
    const watchdog =
      options.watchdog !== false && ON_THIS_THREAD.includes(kind) && options.processes === undefined
        ? new LoopWatchdog(
            {
              queue: options.queue ?? 'default',
              url: options.url ?? (await resolveRedisUrl()),
              visibilityMs,
              brokerTrack: tracks.broker,
              coordinationTrack: tracks.coordination,
              oneLane: pool.concurrency === 1,
            },
            (message) => worker.emit('warning', message),
          )
        : undefined;
    const worker = new Worker(broker, pool, registry, {
      prefetchMultiplier,
      blockMs: options.blockMs ?? 1000,
      retryBackoffMs: options.retryBackoffMs ?? 1000,
      maxRedeliveries: options.maxRedeliveries ?? 2,
      // Renew leases well before they run out: three chances per visibility timeout.
      maintenanceMs: Math.min(MAINTENANCE_MAX_MS, visibilityMs / 3),
      fast: options.fastPath && isFastBroker(broker) ? broker : undefined,
      second,
      watchdog,
      coordination: new Coordination({
        queue: options.queue ?? 'default',
        url: options.url,
        track: tracks.coordination,
        watch,
        warn: (message) => worker.emit('warning', message),
      }),
      limiter,
      monitor,
    });
    built = worker;
    // An outage is otherwise silent: commands wait for the connection and the worker carries on once it is back.
    const quiet = watch.report(OUTAGE_REPORT_MS, (line) => worker.emit('warning', line));
    worker.done.then(quiet, quiet);
    return worker;
  }

  /**
   * Resolves with every run once `count` tasks have settled (SUCCESS or FAILURE; a RETRY is not settled yet),
   * counting from now. Rejects if the worker stops first (with its error, e.g. a TODO not done) or `timeoutMs`
   * passes. For demos and tests that drain a known number of tasks.
   */
  untilSettled(count: number, timeoutMs = 60_000): Promise<TaskRun[]> {
    const runs: TaskRun[] = [];
    let settled = 0;
    return new Promise<TaskRun[]>((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`only ${settled} of ${count} tasks settled within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onTask = (run: TaskRun) => {
        runs.push(run);
        if (run.state !== 'RETRY' && ++settled === count) finish();
      };
      const finish = (error?: unknown) => {
        clearTimeout(timer);
        this.off('task', onTask);
        if (error === undefined) resolve(runs);
        else reject(error);
      };
      this.on('task', onTask);
      if (count <= 0) finish();
      this.done.then(
        () => finish(new Error(`the worker stopped after ${settled} of ${count} tasks`)),
        (error: unknown) => finish(error),
      );
    });
  }

  /** This worker's id in its heartbeat record and events (`<host>:<pid>:<random>`). */
  get id(): string {
    return this.settings.monitor.id;
  }

  /** How many messages this worker holds right now (running or waiting in the pool). */
  get holding(): number {
    return this.inFlight.size;
  }

  /**
   * Warm shutdown: reserve nothing more, let what runs finish, then close. With `cold`, stop now: what was held
   * is given back to the queue now, unrun, and threads or child processes are killed. In-process tasks cannot be
   * stopped: if one still finishes, its ack finds the message given back and changes nothing.
   */
  async stop(options: { cold?: boolean } = {}): Promise<void> {
    this.stopping = true;
    this.wake();
    if (options.cold && !this.cold) {
      this.cold = true;
      clearInterval(this.maintenance);
      // Give back what we hold before killing anything: if we die in between, the leases still bring it back.
      const held = [...this.inFlight.values()].map((h) => h.raw);
      this.released = await within(this.broker.release(held), RELEASE_MAX_MS).catch(
        (error) => void this.emit('warning', `release: ${errorMessage(error)}`),
      );
      await this.pool
        .terminate?.()
        .catch((error) => this.emit('warning', `terminate: ${errorMessage(error)}`));
      // Bounded too: with Redis unreachable, a close waits behind the release in the connection's queue.
      await within(this.closeBrokers(), RELEASE_MAX_MS).catch(() => {});
      this.coldStopped();
    }
    await this.done.catch(() => {});
  }

  private async run(): Promise<void> {
    this.maintenance = setInterval(() => void this.maintain(), this.settings.maintenanceMs);
    try {
      await this.consume();
      // Warm: wait for what runs. Cold: stop() has given it back; do not wait for it.
      await Promise.race([
        Promise.allSettled([...this.inFlight.values()].map((held) => held.settled)),
        this.coldStop,
      ]);
    } finally {
      clearInterval(this.maintenance);
      // First: a worker that is stopping should vanish from `inspect` now, not when its record expires.
      await this.settings.monitor.stop();
      await this.settings.watchdog?.close();
      await this.settings.coordination.close();
      await this.settings.limiter?.close();
      if (!this.cold) {
        await this.pool.close().catch((error) => this.emit('warning', `pool close: ${errorMessage(error)}`));
        await this.closeBrokers().catch(() => {});
      }
    }
    if (this.fatal) throw this.fatal;
  }

  private closeBrokers(): Promise<unknown> {
    return Promise.all([this.broker.close(), this.settings.second?.close()]);
  }

  /** Messages this worker may hold at once: its slots times the prefetch multiplier. */
  private get capacity(): number {
    return this.pool.concurrency * this.settings.prefetchMultiplier;
  }

  /** Resolves when a held message settles (or its ack is sent, or the worker stops): see wake(). */
  private slotFreedSoon(): Promise<void> {
    // A loop that comes to wait after stop() has woken the others must not wait for a slot that never frees.
    if (this.stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.slotFreed.push(resolve);
    });
  }

  private async consume(): Promise<void> {
    const { fast, second } = this.settings;
    const capacity = this.capacity;
    this.streams = (second ? [Math.ceil(capacity / 2), Math.floor(capacity / 2)] : [capacity]).map(
      (share, i): Stream => ({
        capacity: share,
        inFlight: 0,
        acking: 0,
        fast: i === 0 ? fast : second,
        first: i === 0,
      }),
    );
    await Promise.all(this.streams.map((stream) => this.consumeStream(stream)));
  }

  private async consumeStream(stream: Stream): Promise<void> {
    while (!this.stopping) {
      const free = stream.capacity - stream.inFlight + stream.acking;
      if (free <= 0) {
        await this.slotFreedSoon();
        continue;
      }
      let raws: string[];
      try {
        raws = await this.reserve(stream, free);
      } catch (error) {
        if (this.stopping) break;
        if (this.failFast(error)) break;
        this.emit('warning', `reserve: ${errorMessage(error)}`);
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      for (const raw of raws) this.track(raw, stream);
      // Messages came: the other loop may be asleep after finding none ready (see reserve()).
      if (raws.length > 0 && this.streams.length > 1) this.wake();
    }
  }

  /**
   * The broker's reserve(), which waits on its own connection (BLMOVE). On the fast path, what is ready comes
   * first, in one round trip on the pipelined connection (a Lua script moves the lot and leases it), and
   * reserve() only runs when nothing is ready.
   */
  private async reserve(stream: Stream, free: number): Promise<string[]> {
    const fast = stream.fast;
    if (fast) {
      // No need to wait for more free slots first: the acks of a burst of short tasks come back in one pipelined
      // reply, so by the time this runs they have all freed their slots (measured: 50 a call at concurrency 50).
      const ready = await fast.reserveReady(free);
      if (ready.length > 0) return ready;
      // Nothing ready: wait in the broker's reserve. Its BLMOVE goes on its own connection, which keeps no order
      // with the acks, so only the slots whose acks are confirmed count there. The first loop alone waits there
      // (a lab's reserve() is not asked to serve two calls at once); the second waits for a message to come to
      // the first, or for a slot to free (wake()).
      const confirmed = stream.capacity - stream.inFlight;
      if (confirmed <= 0 || !stream.first) {
        await this.slotFreedSoon();
        return [];
      }
      return this.broker.reserve(confirmed, this.settings.blockMs);
    }
    return this.broker.reserve(free, this.settings.blockMs);
  }

  /** Wakes the reserve loops that wait for a free slot. */
  private wake(): void {
    const waiting = this.slotFreed;
    if (waiting.length === 0) return;
    this.slotFreed = [];
    for (const resume of waiting) resume();
  }

  /** The ack (or retry) of a held message has been sent on its loop's connection: see Stream.acking. */
  private ackSent(held: Held): void {
    if (!held.stream.fast || held.acking) return;
    held.acking = true;
    held.stream.acking++;
    this.wake();
  }

  /** A TODO not done or a broken contract cannot be retried away: stop the worker and report it. */
  private failFast(error: unknown): boolean {
    if (!(error instanceof UserError)) return false;
    this.fatal ??= error;
    this.stopping = true;
    return true;
  }

  private track(raw: string, stream: Stream): void {
    const key = this.sequence++;
    // In the map before handle() runs: a message that fails at once reaches ackSent() synchronously.
    const held: Held = { raw, settled: Promise.resolve(), acking: false, stream };
    this.inFlight.set(key, held);
    stream.inFlight++;
    held.settled = this.handle(raw, held)
      .catch((error) => {
        if (!this.failFast(error) && !this.cold) this.emit('warning', `settle: ${errorMessage(error)}`);
      })
      .finally(() => {
        if (held.acking) stream.acking--;
        stream.inFlight--;
        // Also for a message that never reached the pool (failed here, put off by a rate limit): idempotent.
        if (held.run) this.settings.monitor.finished(held.run);
        this.inFlight.delete(key);
        this.wake();
      });
  }

  private async handle(raw: string, held: Held): Promise<void> {
    // U+FFFD may stand for bytes that are not UTF-8: only those exact bytes can settle it (undecodable.ts).
    if (
      raw.includes('\uFFFD') &&
      !(await readable(this.broker, raw, (reason) => this.emit('dead', { raw, reason })))
    )
      return;
    const decoded = decodeEnvelope(raw);
    if (!decoded.ok) {
      await this.broker.bury(raw, decoded.reason);
      this.emit('dead', { raw, reason: decoded.reason });
      return;
    }
    const envelope = decoded.envelope;
    const early = await holdIfEarly(this.broker, raw, envelope);
    if (early) {
      if ('buried' in early) this.emit('dead', { raw, reason: early.buried });
      return;
    }
    held.run = this.settings.monitor.received(envelope);
    if (!lookupTask(this.registry, envelope.task)) {
      // Unknown names fail here, before any pool sees them: a message never makes a worker import anything.
      await this.failHere(held, envelope, 'UnknownTask', unknownTaskMessage(envelope.task, this.registry));
      return;
    }
    if ((envelope.redelivered ?? 0) > this.settings.maxRedeliveries) {
      const message = `the worker running this task died ${envelope.redelivered} times; not trying again`;
      await this.failHere(held, envelope, 'WorkerLost', message);
      return;
    }
    const interval = this.settings.limiter?.intervalOf(envelope.task);
    if (interval !== undefined && (await this.overLimit(interval, held, envelope))) return;
    if (envelope.timeout !== undefined) {
      // The first timed task waits, still unstarted, for the watchdog thread to be up: see LoopWatchdog.arm().
      const arming = this.settings.watchdog?.arm();
      if (arming) await arming;
    }
    const starting: Starting = { envelope, startedAt: Date.now(), over: false };
    this.noteStarted(starting);
    this.settings.monitor.started(held.run, starting.startedAt);
    let outcome: TaskOutcome;
    const call: TaskCall = {
      id: envelope.id,
      task: envelope.task,
      args: envelope.args,
      attempt: envelope.attempt,
      ...(envelope.timeout === undefined ? {} : { timeout: envelope.timeout }),
    };
    if (call.timeout !== undefined) this.settings.watchdog?.expect(call, raw, recordBase(envelope));
    try {
      outcome = await this.pool.run(call);
    } catch (error) {
      // run() rejects only when the pool is broken.
      return this.poolBroken(held, error);
    } finally {
      starting.over = true;
      this.settings.watchdog?.settled(call);
      this.settings.monitor.finished(held.run!);
    }
    if (!outcome.ok && outcome.error.name === POOL_BROKEN)
      return this.poolBroken(held, outcome.error.message);
    await this.settle(held, envelope, outcome);
  }

  /**
   * A task with a rate limit asks for a start (rate-limit.ts). One booked for later sends the message back to the
   * delayed set until then, unrun: the slot is free for other tasks at once.
   */
  private async overLimit(interval: number, held: Held, envelope: Envelope): Promise<boolean> {
    const limiter = this.settings.limiter!;
    let waitMs: number;
    try {
      waitMs = await limiter.take(envelope.task, interval, envelope.id);
    } catch (error) {
      // Unrun, so back to the queue now, not after its lease; a TODO not done (a UserError) stops this worker.
      await this.broker.release([held.raw]).catch(() => {});
      throw error;
    }
    if (waitMs === 0) return false;
    await limiter.deferUntil(this.broker, held.raw, waitMs);
    this.emit('limited', { id: envelope.id, task: envelope.task, waitMs });
    return true;
  }

  /**
   * STARTED is informational and not awaited; the same connection keeps it before the ack. It is written one turn
   * of the event loop later, and not at all for a task that is over by then: its ack, in the same pipelined
   * write, would overwrite it before anyone could read it. That is a command, a JSON encoding and a result-sized
   * write saved per short task, and one timer per turn instead of one per task.
   */
  private noteStarted(starting: Starting): void {
    if (this.startedThisTurn.length === 0) {
      setImmediate(() => {
        const turn = this.startedThisTurn;
        this.startedThisTurn = [];
        for (const { envelope, startedAt, over } of turn) {
          if (over) continue;
          this.broker.started({ ...recordBase(envelope), state: 'STARTED', startedAt }).catch(() => {});
        }
      });
    }
    this.startedThisTurn.push(starting);
  }

  /**
   * The pool cannot run tasks any more (it cannot start its threads or children): not the task's failure, and
   * reserving more would only bring this worker the same messages again, lease after lease. The message goes back
   * to the queue now, for a healthy worker, and the UserError thrown stops this one (failFast) with why.
   */
  private async poolBroken(held: Held, error: unknown): Promise<never> {
    // After a cold stop the pool is terminated on purpose, and what was held is back in the queue already.
    if (this.cold) throw error;
    await this.broker.release([held.raw]).catch(() => {});
    if (error instanceof UserError) throw error;
    const message = errorMessage(error);
    const todo = todoIn(message);
    if (todo) throw new NotImplemented(todo.todo, todo.hint);
    throw new UserError(
      `${message}: this worker stops, and what it held goes back to the queue for other workers`,
    );
  }

  private async settle(
    held: Held,
    envelope: Envelope,
    outcome: TaskOutcome,
    retriable = true,
  ): Promise<void> {
    const raw = held.raw;
    let record: ResultRecord;
    // Encoded once: the check that it is JSON is the encoding the ack stores.
    let encoded: string | undefined;
    if (outcome.ok) {
      record = finalRecord(envelope, outcome, 'SUCCESS');
      record.result = outcome.value;
      encoded = encode(record);
      if (encoded === undefined) {
        record = finalRecord(envelope, outcome, 'FAILURE');
        record.error = {
          name: 'UnserialisableResult',
          message: 'the task returned a value that is not JSON',
        };
      }
    } else {
      record = finalRecord(envelope, outcome, 'FAILURE');
      record.error = outcome.error;
    }
    if (retriable && record.state === 'FAILURE' && envelope.attempt < (envelope.maxRetries ?? 0)) {
      // A new attempt starts with a clean record of worker deaths.
      const { redelivered: _dropped, ...rest } = envelope;
      const next = encodeEnvelope({ ...rest, attempt: envelope.attempt + 1 });
      const dueAt = Date.now() + this.backoff(envelope.attempt);
      const retried = this.broker.retry(raw, next, dueAt, { ...record, state: 'RETRY' });
      // On the worker's own broker: the first loop's reserves follow it on that connection; the second loop's
      // slot frees when the retry has landed.
      if (held.stream.first) this.ackSent(held);
      // After a cold stop, a message given back counts for nothing here: another worker runs it.
      if (!(await retried) && this.cold) return;
      this.report(record, 'RETRY', held);
      return;
    }
    // A chord member joins, a chain link enqueues the next, before the ack: a crash in between redelivers the
    // message, whose second step changes nothing (coordination.ts). Plain messages skip it.
    if (Coordination.concerns(envelope)) {
      const step = await this.settings.coordination.settled(envelope, record);
      // A chord's callback or a chain's next link went to the Redis waiting list. On RabbitMQ that list is an
      // outbox that promote() relays (mini-queue/amqp/broker-base.ts): now, not at the next maintenance.
      if (step.join === 'fired' || step.next) this.broker.promote().catch(() => {});
    }
    const fast = held.stream.fast;
    const acked = fast
      ? fast.ackSoon(raw, record, record.state === 'SUCCESS' ? encoded : undefined)
      : this.broker.ack(raw, record);
    this.ackSent(held);
    if (!(await acked) && this.cold) return;
    this.report(record, record.state as 'SUCCESS' | 'FAILURE', held);
  }

  /**
   * Fails a message in the worker itself, before any pool runs it, through the same settle path. Never retried:
   * another attempt would meet the same unknown name, or the same limit of worker deaths.
   */
  private failHere(held: Held, envelope: Envelope, name: string, message: string): Promise<void> {
    const now = Date.now();
    const outcome: TaskOutcome = {
      ok: false,
      error: { name, message },
      lane: 'worker',
      startedAt: now,
      finishedAt: now,
    };
    return this.settle(held, envelope, outcome, false);
  }

  /** Exponential backoff with full jitter: retries of many failed tasks do not stampede together. */
  private backoff(attempt: number): number {
    const ceiling = Math.min(this.settings.retryBackoffMs * 2 ** attempt, 5 * 60_000);
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  private report(record: ResultRecord, state: TaskRun['state'], held: Held): void {
    this.settings.monitor.settled(held.run, record, state);
    this.emit('task', {
      id: record.id,
      task: record.task,
      state,
      attempt: record.attempt,
      lane: record.lane ?? 'worker',
      enqueuedAt: record.enqueuedAt,
      startedAt: record.startedAt ?? 0,
      finishedAt: record.finishedAt ?? 0,
      ...(record.error ? { error: `${record.error.name}: ${record.error.message}` } : {}),
    });
  }

  private maintaining = false;

  /** Lease renewal, recovery and promotion; never two at once, and a failure here only warns. */
  private async maintain(): Promise<void> {
    if (this.maintaining) return;
    this.maintaining = true;
    try {
      const held = [...this.inFlight.values()].map((h) => h.raw);
      this.settings.watchdog?.holding(held);
      await this.broker.extendLeases(held);
      await this.broker.recover();
      await this.broker.promote();
    } catch (error) {
      // A TODO not done or a script that cannot run (LuaScriptError) fails every time: stop and say so.
      if (error instanceof UserError) {
        this.failFast(error);
        this.wake();
      } else if (!this.stopping && !this.cold) this.emit('warning', `maintenance: ${errorMessage(error)}`);
    } finally {
      this.maintaining = false;
    }
  }
}

/** The record as JSON, or undefined when it cannot be (a BigInt, a cycle). */
function encode(record: ResultRecord): string | undefined {
  try {
    return JSON.stringify(record);
  } catch {
    return undefined;
  }
}

/** The record of a finished run, built in one object literal (with one shape): one per task on the hot path. */
function finalRecord(envelope: Envelope, outcome: TaskOutcome, state: 'SUCCESS' | 'FAILURE'): ResultRecord {
  return {
    id: envelope.id,
    task: envelope.task,
    attempt: envelope.attempt,
    enqueuedAt: envelope.enqueuedAt,
    lane: outcome.lane,
    startedAt: outcome.startedAt,
    finishedAt: outcome.finishedAt,
    state,
  };
}

/** What every result record of an envelope starts with. */
function recordBase(envelope: Envelope): Omit<ResultRecord, 'state'> {
  return { id: envelope.id, task: envelope.task, attempt: envelope.attempt, enqueuedAt: envelope.enqueuedAt };
}
