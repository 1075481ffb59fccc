/**
 * Section 1: queue throughput. N no-op tasks enqueued in bulk, then drained by one worker at concurrency 50:
 * mini-queue (reference track, event-loop pool) against BullMQ and Bee-Queue. Each run is a fresh process
 * (bench/throughput.ts), so no system inherits another's warm JIT, sockets or garbage; the systems take turns
 * run by run, so a burst of outside load hits all of them alike.
 *
 * With Celery installed (bench/peers/celery.ts), also Celery against mini-queue pool by pool: event-loop vs
 * `-P threads`, coroutines vs `-P gevent`, solo vs `-P solo`, each Celery run a fresh worker process on a fresh
 * queue, results stored in the same Redis. Both sides are timed from inside the worker with its boot left out:
 * Celery's from its first task_prerun to its last task_postrun, ours from the worker started to the last task;
 * the CPU is the worker process's own over that window. Celery runs fewer tasks (PLAN), as it is 5-15x slower.
 *
 * What mini-queue's task events cost (issue 19: at most 5% of throughput) is measured apart, in pairs of two
 * workers started at the same moment on the same machine, each on a queue of its own: events on with a subscriber
 * listening (as a dashboard would) beside events off (`events: false`); then events on with nobody listening (the
 * worker then builds and sends none: it asks Redis who listens once a second) beside off. Run one after the other,
 * two runs of the same worker differ by up to ±15% on a shared machine (2026-11-29: 15 rounds of sequential runs
 * put events on and unheard, which costs one PUBSUB a second, anywhere from 0.94x to 1.03x off); side by side,
 * whatever slows the machine slows both, and a 5% difference shows. Their runs are longer (`eventTotal` tasks):
 * a 20,000-task run lasts 0.7 s, and a heard worker compiles its events code in that time too (heard cost ~1.5 µs
 * a task more at 20,000 tasks than at 100,000: ~30 ms, paid once per worker). The subscriber counts what arrives
 * without decoding it: the worker's cost is measured, not a consumer's.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DEFAULT_AMQP_URL, noRabbitMessage } from '../mini-queue/amqp/address.ts';
import { connectRedis } from '../mini-queue/redis/client.ts';
import { answers } from '../mini-queue/redis/probe.ts';
import type { CeleryDriver, CeleryTiming, CeleryWorkerSpec } from './peers/celery.ts';
import { fmt, type Row, type Summary, spreads, summarize } from './stats.ts';
import {
  type ChildSystem,
  type MqEvents,
  type MqQueuePool,
  RABBITMQ_SYSTEM,
  SYSTEMS,
  type System,
  type ThroughputRun,
} from './throughput-run.ts';

const CHILD = fileURLToPath(new URL('./throughput.ts', import.meta.url));

export interface QueueSystemResult {
  enqueuePerSec: Summary;
  processedPerSec: Summary;
  /** CPU µs per task of the draining process: what a busy machine disturbs least. */
  cpuMicrosPerTask: Summary;
  /** The same two from the worker started (its boot excluded): what Celery's figures are compared with. */
  drainPerSec: Summary;
  drainCpuMicrosPerTask: Summary;
}

/** Celery's configurations in section 1, each beside the mini-queue pool named in `ours`. */
export const CELERY_QUEUE_RUNS = {
  threads: { pool: 'threads', ours: 'event-loop', acksLate: true, label: '-P threads, acks_late' },
  'threads-early': { pool: 'threads', ours: 'event-loop', acksLate: false, label: '-P threads, early ack' },
  gevent: {
    pool: 'gevent',
    ours: 'coroutines',
    acksLate: true,
    sharedBackend: true,
    label: '-P gevent, acks_late, one backend',
  },
  'gevent-early': {
    pool: 'gevent',
    ours: 'coroutines',
    acksLate: false,
    sharedBackend: true,
    label: '-P gevent, early ack, one backend',
  },
  // Celery 5.2's default: a result backend (and a Redis connection) per greenlet, so per task. Slow: fewer tasks.
  'gevent-5.2': {
    pool: 'gevent',
    ours: 'coroutines',
    acksLate: true,
    sharedBackend: false,
    label: '-P gevent, acks_late, 5.2 backend per greenlet',
    fewer: true,
  },
  solo: { pool: 'solo', ours: 'solo', acksLate: true, label: '-P solo, acks_late' },
  'solo-early': { pool: 'solo', ours: 'solo', acksLate: false, label: '-P solo, early ack' },
} as const satisfies Record<string, CeleryQueueSpec>;
export type CeleryQueueRun = keyof typeof CELERY_QUEUE_RUNS;

interface CeleryQueueSpec extends Omit<CeleryWorkerSpec, 'concurrency'> {
  ours: MqQueuePool;
  label: string;
  /** Runs `fewerTasks`, not `tasks`: too slow for the full count in the time the bench has. */
  fewer?: boolean;
}

function celeryTasks(run: CeleryQueueRun, plan: { tasks: number; fewerTasks: number }): number {
  const spec: CeleryQueueSpec = CELERY_QUEUE_RUNS[run];
  return spec.fewer ? Math.min(plan.tasks, plan.fewerTasks) : plan.tasks;
}

export interface CeleryQueueFigures {
  tasks: number;
  enqueuePerSec: Summary;
  processedPerSec: Summary;
  cpuMicrosPerTask: Summary;
  /** A fresh worker process's start-up to its first task, s (median): what the window leaves out. */
  bootSeconds: number;
}

export interface CeleryQueueResult {
  /** Tasks per run (the per-greenlet configuration runs `fewerTasks`). */
  tasks: number;
  fewerTasks: number;
  runs: Partial<Record<CeleryQueueRun, CeleryQueueFigures>>;
}

export interface QueueResult {
  total: number;
  concurrency: number;
  runs: number;
  systems: Record<System, QueueSystemResult>;
  /** mini-queue's coroutines and solo pools, measured (`poolTotal` tasks a run) when Celery is there. */
  pools?: Partial<Record<MqQueuePool, QueueSystemResult>>;
  poolTotal?: number;
  celery?: CeleryQueueResult;
  /** Why the Celery rows are missing, when they are. */
  celerySkipped?: string;
  /** Tasks a run of the events pairs (see the top of this file). */
  eventTotal: number;
  /** mini-queue (event-loop) with its task events on and a subscriber listening (a dashboard open). */
  eventsHeard: QueueSystemResult;
  /** mini-queue (event-loop) with its task events off, each run side by side with a heard one. */
  eventsOff: QueueSystemResult;
  /** Events on and nobody listening, each run side by side with one off of its own. */
  eventsUnheard: QueueSystemResult;
  /** Pair by pair, processed/s with events on and heard / off (the two ran at once). */
  eventsRatio: Summary;
  /** Pair by pair, CPU per task off / heard. */
  eventsCpuRatio: Summary;
  /** Pair by pair, processed/s with events on and unheard / off. */
  eventsUnheardRatio: Summary;
  /** Pair by pair, CPU per task off / unheard. */
  eventsUnheardCpuRatio: Summary;
  /** What the section's subscriber received from the events-on runs (warm-ups included): proof they were on. */
  eventsSeen: { batches: number; bytes: number };
  /**
   * Pattern subscriptions other clients held on this Redis as the section began (PUBSUB NUMPAT): a dashboard
   * running elsewhere hears every queue, the "unheard" runs' too, and then those runs build and send their events.
   */
  foreignPatterns: number;
  /** mini-queue with RabbitMQ as its transport: the same worker, pool (event-loop), tasks and count. */
  rabbitmq?: QueueSystemResult;
  /** Why the RabbitMQ row is missing, when it is. */
  rabbitmqSkipped?: string;
}

/** One run in a fresh process. */
function runChild(
  system: ChildSystem,
  total: number,
  concurrency: number,
  pool: MqQueuePool,
  events: MqEvents = 'events',
): Promise<ThroughputRun> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', CHILD, system, String(total), String(concurrency), pool, events],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        // Only the RabbitMQ run gets a BROKER_URL: every other one is on Redis whatever this process was given.
        env: system === RABBITMQ_SYSTEM ? { ...process.env, BROKER_URL: rabbitUrl } : noBroker(),
      },
    );
    let out = '';
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    proc.on('close', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as ThroughputRun);
      else reject(new Error(`${system} (${pool}) run failed (exit ${code}): ${out}`));
    });
  });
}

function noBroker(): NodeJS.ProcessEnv {
  const { BROKER_URL: _url, BROKER: _broker, ...env } = process.env;
  return env;
}

function figures(total: number, samples: ThroughputRun[]): QueueSystemResult {
  return {
    enqueuePerSec: summarize(samples.map((x) => total / x.enqueueSeconds)),
    processedPerSec: summarize(samples.map((x) => total / x.processSeconds)),
    cpuMicrosPerTask: summarize(samples.map((x) => (x.processCpuSeconds * 1e6) / total)),
    drainPerSec: summarize(samples.map((x) => total / x.drainSeconds)),
    drainCpuMicrosPerTask: summarize(samples.map((x) => (x.drainCpuSeconds * 1e6) / total)),
  };
}

export interface CeleryQueuePlan {
  driver: CeleryDriver;
  /** Tasks a Celery run (`fewerTasks` for the slowest configuration). */
  tasks: number;
  fewerTasks: number;
  /** Tasks a run of mini-queue's coroutines and solo pools. */
  poolTotal: number;
}

/** A turn: one run of one system or configuration. The turns of a round alternate; pairs sit side by side. */
type Turn =
  | { kind: 'node'; system: ChildSystem; pool: MqQueuePool; events?: MqEvents }
  | { kind: 'celery'; run: CeleryQueueRun };

/** Where the RabbitMQ row looks: BROKER_URL as the bench found it, else the default address. */
let rabbitUrl = process.env.BROKER_URL || DEFAULT_AMQP_URL;

/** Called by the bench before it takes BROKER_URL out of its environment (every other run is on Redis). */
export function rememberRabbitUrl(url: string | undefined): void {
  rabbitUrl = url || DEFAULT_AMQP_URL;
}

/**
 * Whether a RabbitMQ answers where the RabbitMQ run would look: undefined when one does, else the one line that
 * says how to get one. Only a probe: no environment changes here.
 */
async function rabbitMissing(): Promise<string | undefined> {
  const url = rabbitUrl;
  try {
    const parsed = new URL(url);
    if (await answers(parsed.hostname, Number(parsed.port || 5672))) return undefined;
  } catch {
    return `BROKER_URL is not a URL: ${url}`;
  }
  return noRabbitMessage(url);
}

export async function runQueue(
  total: number,
  concurrency: number,
  runs: number,
  celery?: CeleryQueuePlan,
  log: (line: string) => void = () => {},
  eventRounds = runs,
  eventTotal = total,
): Promise<QueueResult> {
  // mini-queue's row beside the peers is the worker as it runs with no dashboard open: events on, nobody listening.
  const turns: Turn[] = SYSTEMS.map(
    (system): Turn =>
      system === 'mini-queue'
        ? { kind: 'node', system, pool: 'event-loop', events: 'unheard-events' }
        : { kind: 'node', system, pool: 'event-loop' },
  );
  const rabbitmqSkipped = await rabbitMissing();
  if (rabbitmqSkipped) log(`   RabbitMQ row of section 1 skipped: ${rabbitmqSkipped}`);
  // Right after mini-queue's run on Redis: the same worker, another transport.
  else turns.splice(1, 0, { kind: 'node', system: RABBITMQ_SYSTEM, pool: 'event-loop' });
  if (celery) {
    // Each mini-queue pool just before the Celery configurations it is compared with.
    for (const pool of ['event-loop', 'coroutines', 'solo'] as const) {
      if (pool !== 'event-loop') {
        turns.push({ kind: 'node', system: 'mini-queue', pool, events: 'unheard-events' });
      }
      for (const [run, spec] of Object.entries(CELERY_QUEUE_RUNS)) {
        if (spec.ours === pool) turns.push({ kind: 'celery', run: run as CeleryQueueRun });
      }
    }
  }
  const key = (t: Turn) =>
    t.kind === 'node'
      ? `${t.system}/${t.pool}${t.events && t.events !== 'events' ? `/${t.events}` : ''}`
      : `celery/${t.run}`;
  const nodeSamples = new Map<string, ThroughputRun[]>();
  const celerySamples = new Map<CeleryQueueRun, CeleryTiming[]>();
  let celeryError: string | undefined;
  const celeryRun = (run: CeleryQueueRun, tasks: number): Promise<CeleryTiming> => {
    const spec: CeleryQueueSpec = CELERY_QUEUE_RUNS[run];
    return celery!.driver.drain({
      pool: spec.pool,
      concurrency: spec.pool === 'solo' ? 1 : concurrency,
      acksLate: spec.acksLate,
      sharedBackend: spec.sharedBackend ?? false,
      tasks,
    });
  };
  const take = async (turn: Turn, warmUp: boolean) => {
    if (turn.kind === 'node') {
      const n = turn.pool === 'event-loop' ? total : celery!.poolTotal;
      const sample = await runChild(turn.system, warmUp ? 2000 : n, concurrency, turn.pool, turn.events);
      if (!warmUp) nodeSamples.set(key(turn), [...(nodeSamples.get(key(turn)) ?? []), sample]);
      return;
    }
    if (celeryError) return;
    try {
      const sample = await celeryRun(turn.run, warmUp ? 300 : celeryTasks(turn.run, celery!));
      if (!warmUp) celerySamples.set(turn.run, [...(celerySamples.get(turn.run) ?? []), sample]);
    } catch (error) {
      // A Celery that fails here (a stall, a crash) costs its rows, not the bench.
      celeryError = (error as Error).message;
      log(`   Celery rows of section 1 skipped: ${celeryError}`);
    }
  };
  /** Two mini-queue workers at once, `events` beside off; in samples under `events` and `off beside <events>`. */
  const pairs = new Map<string, ThroughputRun[]>();
  const side = async (events: MqEvents, n: number, warmUp: boolean) => {
    const [on, off] = await Promise.all([
      runChild('mini-queue', n, concurrency, 'event-loop', events),
      runChild('mini-queue', n, concurrency, 'event-loop', 'no-events'),
    ]);
    if (warmUp) return;
    pairs.set(events, [...(pairs.get(events) ?? []), on]);
    pairs.set(`off beside ${events}`, [...(pairs.get(`off beside ${events}`) ?? []), off]);
  };
  const listener = await listenToEvents();
  try {
    // Warm-up: the disk cache (tsx, Python, the libraries), Redis's memory; one per process kind, small.
    const warmed = new Set<string>();
    for (const turn of turns) {
      const kind = turn.kind === 'node' ? key(turn) : `celery/${CELERY_QUEUE_RUNS[turn.run].pool}`;
      if (warmed.has(kind)) continue;
      warmed.add(kind);
      await take(turn, true);
    }
    for (let r = 0; r < runs; r++) {
      for (const turn of turns) await take(turn, false);
    }
    await side('events', 2000, true);
    for (let r = 0; r < eventRounds; r++) {
      await side('events', eventTotal, false);
      await side('unheard-events', eventTotal, false);
    }
  } finally {
    listener.close();
  }
  const systems = Object.fromEntries(
    SYSTEMS.map((s) => [
      s,
      figures(
        total,
        nodeSamples.get(s === 'mini-queue' ? `${s}/event-loop/unheard-events` : `${s}/event-loop`)!,
      ),
    ]),
  ) as Record<System, QueueSystemResult>;
  const heard = pairs.get('events')!;
  const offBesideHeard = pairs.get('off beside events')!;
  const unheard = pairs.get('unheard-events')!;
  const offBesideUnheard = pairs.get('off beside unheard-events')!;
  const result: QueueResult = {
    total,
    concurrency,
    runs,
    systems,
    eventTotal,
    eventsHeard: figures(eventTotal, heard),
    eventsOff: figures(eventTotal, offBesideHeard),
    eventsUnheard: figures(eventTotal, unheard),
    eventsRatio: pairedRatio(heard, offBesideHeard),
    eventsCpuRatio: pairedCpuRatio(heard, offBesideHeard),
    eventsUnheardRatio: pairedRatio(unheard, offBesideUnheard),
    eventsUnheardCpuRatio: pairedCpuRatio(unheard, offBesideUnheard),
    eventsSeen: listener.seen,
    foreignPatterns: listener.foreignPatterns,
  };
  if (rabbitmqSkipped) result.rabbitmqSkipped = rabbitmqSkipped;
  else result.rabbitmq = figures(total, nodeSamples.get(`${RABBITMQ_SYSTEM}/event-loop`)!);
  if (!celery) return result;
  result.pools = {
    coroutines: figures(celery.poolTotal, nodeSamples.get('mini-queue/coroutines/unheard-events')!),
    solo: figures(celery.poolTotal, nodeSamples.get('mini-queue/solo/unheard-events')!),
  };
  result.poolTotal = celery.poolTotal;
  if (celeryError) {
    result.celerySkipped = celeryError;
    return result;
  }
  const celeryRuns: Partial<Record<CeleryQueueRun, CeleryQueueFigures>> = {};
  for (const [run, samples] of celerySamples) {
    const tasks = celeryTasks(run, celery);
    celeryRuns[run] = {
      tasks,
      enqueuePerSec: summarize(samples.map((x) => x.enqueuePerSec)),
      processedPerSec: summarize(samples.map((x) => tasks / x.seconds)),
      cpuMicrosPerTask: summarize(samples.map((x) => ((x.cpuSeconds ?? Number.NaN) * 1e6) / tasks)),
      bootSeconds: summarize(samples.map((x) => x.bootSeconds ?? Number.NaN)).median,
    };
  }
  result.celery = { tasks: celery.tasks, fewerTasks: celery.fewerTasks, runs: celeryRuns };
  return result;
}

/** Processed/s of `on` / `off`, pair by pair (each pair ran side by side). */
function pairedRatio(on: ThroughputRun[], off: ThroughputRun[]): Summary {
  const pairs = Math.min(on.length, off.length);
  return summarize(Array.from({ length: pairs }, (_, i) => off[i]!.processSeconds / on[i]!.processSeconds));
}

/** CPU per task of `off` / `on`, pair by pair: above 1, events on cost less (the table's "less CPU" ratios). */
function pairedCpuRatio(on: ThroughputRun[], off: ThroughputRun[]): Summary {
  const pairs = Math.min(on.length, off.length);
  return summarize(
    Array.from({ length: pairs }, (_, i) => off[i]!.processCpuSeconds / on[i]!.processCpuSeconds),
  );
}

/**
 * A subscriber to the task events of section 1's mini-queue runs (their queues are `bench-mini-queue-<pid>`), as a
 * dashboard would be: a worker builds and sends events only while one listens. It counts, and decodes nothing.
 */
async function listenToEvents(): Promise<{
  seen: { batches: number; bytes: number };
  foreignPatterns: number;
  close: () => void;
}> {
  const redis = await connectRedis({ name: 'bench-events', autoPipelining: false });
  const foreignPatterns = Number(await redis.pubsub('NUMPAT'));
  const seen = { batches: 0, bytes: 0 };
  redis.on('pmessageBuffer', (_pattern: Buffer, _channel: Buffer, message: Buffer) => {
    seen.batches++;
    seen.bytes += message.length;
  });
  // Not `bench-mini-queue-unheard-<pid>`: those runs measure events on with nobody listening.
  await redis.psubscribe('mq:{bench-mini-queue-[0-9]*}:events');
  return { seen, foreignPatterns, close: () => redis.disconnect() };
}

const NAMES: Record<System, string> = {
  'mini-queue': 'mini-queue',
  bullmq: 'BullMQ',
  'bee-queue': 'Bee-Queue',
};

export function queueRows(result: QueueResult): Row[] {
  const ours = result.systems['mini-queue'];
  const rows: Row[] = [];
  const label = {
    processedPerSec: 'processed/s',
    enqueuePerSec: 'enqueue/s',
    cpuMicrosPerTask: 'CPU µs/task draining (ratio: less CPU)',
  };
  for (const measure of ['processedPerSec', 'enqueuePerSec', 'cpuMicrosPerTask'] as const) {
    for (const peer of ['bullmq', 'bee-queue'] as const) {
      const theirs = result.systems[peer];
      const cpu = measure === 'cpuMicrosPerTask';
      const unit = cpu ? ' µs' : '/s';
      rows.push({
        section: '1 queue',
        measure: `${fmt(result.total)} no-ops, c=${result.concurrency}: ${label[measure]}`,
        ours: `${fmt(ours[measure].median)}${unit}`,
        theirs: `${NAMES[peer]} ${fmt(theirs[measure].median)}${unit}`,
        ratio: cpu
          ? theirs[measure].median / ours[measure].median
          : ours[measure].median / theirs[measure].median,
        spread: spreads(ours[measure], theirs[measure]),
      });
    }
    const rabbit = result.rabbitmq;
    if (rabbit) {
      const cpu = measure === 'cpuMicrosPerTask';
      const unit = cpu ? ' µs' : '/s';
      rows.push({
        section: '1 queue',
        measure: `${fmt(result.total)} no-ops, c=${result.concurrency}: ${label[measure]} (the transport: Redis vs RabbitMQ)`,
        ours: `${fmt(ours[measure].median)}${unit}`,
        theirs: `mini-queue on RabbitMQ ${fmt(rabbit[measure].median)}${unit}`,
        ratio: cpu
          ? rabbit[measure].median / ours[measure].median
          : ours[measure].median / rabbit[measure].median,
        spread: spreads(ours[measure], rabbit[measure]),
      });
    }
  }
  const off = result.eventsOff;
  const heard = result.eventsHeard;
  const unheard = result.eventsUnheard;
  const seen = `${fmt(result.eventsSeen.batches)} batches, ${fmt(result.eventsSeen.bytes / 2 ** 20, 1)} MiB`;
  // Another client's pattern subscription (a dashboard open elsewhere) hears the "unheard" runs too: say so.
  const unheardLabel =
    result.foreignPatterns === 0
      ? 'nobody listening'
      : `no subscriber of ours (but ${result.foreignPatterns} pattern subscription(s) of other clients on this Redis may hear it)`;
  const rounds = `${fmt(result.eventTotal)} no-ops each, median of ${result.eventsRatio.samples.length} pairs run at once`;
  rows.push(
    {
      section: '1 queue',
      measure: `task events on, a subscriber listening (${seen}), vs off: processed/s, ${rounds}`,
      ours: `${fmt(heard.processedPerSec.median)}/s`,
      theirs: `events off ${fmt(off.processedPerSec.median)}/s`,
      ratio: result.eventsRatio.median,
      spread: spreads(heard.processedPerSec, off.processedPerSec),
    },
    {
      section: '1 queue',
      measure: `task events on, a subscriber listening, vs off: CPU µs/task draining (ratio: less CPU), ${rounds}`,
      ours: `${fmt(heard.cpuMicrosPerTask.median)} µs`,
      theirs: `events off ${fmt(off.cpuMicrosPerTask.median)} µs`,
      ratio: result.eventsCpuRatio.median,
      spread: spreads(heard.cpuMicrosPerTask, off.cpuMicrosPerTask),
    },
    {
      section: '1 queue',
      measure: `task events on, ${unheardLabel}, vs off: processed/s, ${rounds}`,
      ours: `${fmt(unheard.processedPerSec.median)}/s`,
      theirs: `events off ${fmt(off.processedPerSec.median)}/s`,
      ratio: result.eventsUnheardRatio.median,
      spread: spreads(unheard.processedPerSec, off.processedPerSec),
    },
    {
      section: '1 queue',
      measure: `task events on, ${unheardLabel}, vs off: CPU µs/task draining (ratio: less CPU), ${rounds}`,
      ours: `${fmt(unheard.cpuMicrosPerTask.median)} µs`,
      theirs: `events off ${fmt(off.cpuMicrosPerTask.median)} µs`,
      ratio: result.eventsUnheardCpuRatio.median,
      spread: spreads(unheard.cpuMicrosPerTask, off.cpuMicrosPerTask),
    },
  );
  return [...rows, ...celeryQueueRows(result)];
}

/** ours / theirs pool by pool, both timed from inside the worker with the boot excluded. */
function celeryQueueRows(result: QueueResult): Row[] {
  const celery = result.celery;
  if (!celery) return [];
  const rows: Row[] = [];
  for (const [run, theirs] of Object.entries(celery.runs) as Array<[CeleryQueueRun, CeleryQueueFigures]>) {
    const spec = CELERY_QUEUE_RUNS[run];
    const ours = spec.ours === 'event-loop' ? result.systems['mini-queue'] : result.pools?.[spec.ours];
    if (!ours) continue;
    const tasks = (n: number) => `${fmt(n)} tasks`;
    const oursTasks = tasks(spec.ours === 'event-loop' ? result.total : (result.poolTotal ?? result.total));
    rows.push(
      {
        section: '1 queue',
        measure: `${spec.ours} vs Celery ${spec.label}: processed/s`,
        ours: `${fmt(ours.drainPerSec.median)}/s (${oursTasks})`,
        theirs: `Celery ${fmt(theirs.processedPerSec.median)}/s (${tasks(theirs.tasks)})`,
        ratio: ours.drainPerSec.median / theirs.processedPerSec.median,
        spread: spreads(ours.drainPerSec, theirs.processedPerSec),
      },
      {
        section: '1 queue',
        measure: `${spec.ours} vs Celery ${spec.label}: worker CPU µs/task (ratio: less CPU)`,
        ours: `${fmt(ours.drainCpuMicrosPerTask.median)} µs`,
        theirs: `Celery ${fmt(theirs.cpuMicrosPerTask.median)} µs`,
        ratio: theirs.cpuMicrosPerTask.median / ours.drainCpuMicrosPerTask.median,
        spread: spreads(ours.drainCpuMicrosPerTask, theirs.cpuMicrosPerTask),
      },
    );
  }
  return rows;
}
