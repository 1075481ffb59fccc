/**
 * Section 4: I/O concurrency. 10k I/O tasks (scrapePage: a real HTTP GET) against the loopback server, which
 * holds each response `latency` ms, through the event-loop and coroutine pools at C = 100 and 1000, each in this
 * process and in P child processes (the multi-process pool, C split between them). Little's law bounds throughput
 * at C / latency (C requests always in flight, each taking `latency`); the figure is the fraction of that reached.
 * The server runs in its own process; runs alternate between the pools.
 *
 * With Celery installed, also Celery's green-thread pools, `-P gevent` and `-P eventlet` at the same C, its
 * `fetch` task doing scrapePage's work in Python (a GET on a keep-alive urllib3 pool of C connections, the title
 * and the links). A Celery task always goes through its broker and result backend, so it is compared with
 * mini-queue's coroutines through Redis too (a worker draining a queue, results stored: bench/mq-drain.ts),
 * not with the pool alone. Both timed inside the worker, boot excluded; the CPU is the worker process's own.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { calls, runBatch } from '../kit/parallel.ts';
import { median } from '../kit/speedup.ts';
import type { Pool } from '../mini-queue/pool.ts';
import { MultiProcessPool } from '../mini-queue/pools/multi-process.ts';
import { miniQueueDrain } from './mq-drain.ts';
import type { CeleryDriver, CeleryWorkerSpec } from './peers/celery.ts';
import { kitPool, kitPoolIn } from './pools.ts';
import { fmt, pct, type Row, type Summary, spreads, summarize, timed } from './stats.ts';

export const IO_POOLS = ['event-loop', 'coroutines'] as const;

export interface IoPoint {
  pool: (typeof IO_POOLS)[number];
  /** Child processes the pool ran in; 0: in this process. */
  processes: number;
  concurrency: number;
  /** tasks/s, median of the runs. */
  throughput: Summary;
  /** C / latency, tasks/s. */
  ideal: number;
  /** throughput / ideal. */
  fraction: number;
  /**
   * CPU time per task, µs (median run), of every process that took part but the server: this one, and the
   * children of a multi-process pool. In one process, 1e6 / this is the most tasks/s one core can drive, whatever
   * C is; where it is below C / latency, the CPU (the HTTP client, mostly), not the pool, is the limit.
   */
  cpuMicros: number;
  /** The children's part of cpuMicros (0 in this process): the rest is the parent's hand-out and IPC. */
  childCpuMicros: number;
}

export interface IoResult {
  tasks: number;
  latencyMs: number;
  runs: number;
  points: IoPoint[];
  /** Celery and mini-queue through Redis, when Celery is installed. */
  queued?: { tasks: number; fewerTasks: number; points: QueuedIoPoint[] };
  /** Why the Celery rows are missing, when they are. */
  celerySkipped?: string;
}

/** Celery's workers in section 4, each against mini-queue's coroutines through Redis (green threads both). */
export const CELERY_IO_RUNS = {
  gevent: { pool: 'gevent', sharedBackend: true, label: '-P gevent, one backend' },
  eventlet: { pool: 'eventlet', sharedBackend: true, label: '-P eventlet, one backend' },
  // Celery 5.2's default: a result backend and a Redis connection per greenlet, so per task; C = 100 only (at
  // 1000 it opens a thousand connections at once), and fewer tasks.
  'gevent-5.2': {
    pool: 'gevent',
    sharedBackend: false,
    label: '-P gevent, 5.2 backend per greenlet',
    only: 100,
  },
} as const satisfies Record<string, Omit<CeleryWorkerSpec, 'concurrency'> & { label: string; only?: number }>;
export type CeleryIoRun = keyof typeof CELERY_IO_RUNS;

export interface QueuedIoPoint {
  /** `mini-queue` (coroutines, through Redis) or one of CELERY_IO_RUNS. */
  system: 'mini-queue' | CeleryIoRun;
  concurrency: number;
  tasks: number;
  throughput: Summary;
  ideal: number;
  fraction: number;
  /** The worker process's CPU per task, µs. */
  cpuMicros: Summary;
}

export interface CeleryIoPlan {
  driver: CeleryDriver;
  tasks: number;
  fewerTasks: number;
  log: (line: string) => void;
}

/** One timed batch of one queued system: tasks/s and worker CPU µs per task. */
interface QueuedSample {
  rate: number;
  cpuMicros: number;
}

interface QueuedSystem {
  system: QueuedIoPoint['system'];
  tasks: number;
  batch(tasks: number): Promise<QueuedSample>;
  close(): Promise<unknown>;
}

/** The queued systems at one C: mini-queue's coroutines worker and Celery's workers, started and ready. */
async function queuedSystems(
  plan: CeleryIoPlan,
  concurrency: number,
  pageUrl: string,
): Promise<QueuedSystem[]> {
  let drains = 0;
  const systems: QueuedSystem[] = [
    {
      system: 'mini-queue',
      tasks: plan.tasks,
      async batch(tasks) {
        const run = await miniQueueDrain({
          queue: `bench-io-${process.pid}-${++drains}`,
          task: 'scrapePage',
          args: [1],
          total: tasks,
          concurrency,
          pool: 'coroutines',
        });
        return { rate: tasks / run.drainSeconds, cpuMicros: (run.drainCpuSeconds * 1e6) / tasks };
      },
      close: async () => {},
    },
  ];
  for (const [run, spec] of Object.entries(CELERY_IO_RUNS) as Array<
    [CeleryIoRun, (typeof CELERY_IO_RUNS)[CeleryIoRun]]
  >) {
    if ('only' in spec && spec.only !== concurrency) continue;
    const name = `${run}-${concurrency}`;
    try {
      await plan.driver.startWorker(name, {
        pool: spec.pool,
        concurrency,
        acksLate: true,
        sharedBackend: spec.sharedBackend,
      });
    } catch (error) {
      await Promise.allSettled(systems.map((s) => s.close()));
      throw error;
    }
    systems.push({
      system: run,
      tasks: spec.sharedBackend ? plan.tasks : Math.min(plan.tasks, plan.fewerTasks),
      async batch(tasks) {
        const t = await plan.driver.batch(name, 'fetch', [pageUrl], tasks);
        return { rate: tasks / t.seconds, cpuMicros: ((t.cpuSeconds ?? Number.NaN) * 1e6) / tasks };
      },
      close: () => plan.driver.stopWorker(name),
    });
  }
  return systems;
}

const SERVER = fileURLToPath(new URL('./io-server.ts', import.meta.url));

async function startServer(latencyMs: number): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER, String(latencyMs)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`the I/O bench server exited (${code})`)));
  });
  return { url, stop: () => child.stdin.end() };
}

/** CPU µs the children of `pool` have used, 0 for a pool in this process. */
async function childCpu(pool: Pool): Promise<number> {
  if (!(pool instanceof MultiProcessPool)) return 0;
  const usage = await pool.cpuUsage();
  return usage.user + usage.system;
}

export async function runIo(
  tasks: number,
  concurrencies: number[],
  latencyMs: number,
  runs: number,
  processes: number,
  celery?: CeleryIoPlan,
): Promise<IoResult> {
  const server = await startServer(latencyMs);
  // The example tasks send their requests wherever MQ_EXAMPLE_SERVER points, read at each call (the children of a
  // multi-process pool inherit it).
  const previous = process.env.MQ_EXAMPLE_SERVER;
  process.env.MQ_EXAMPLE_SERVER = server.url;
  const points: IoPoint[] = [];
  const variants = [0, processes].flatMap((n) => IO_POOLS.map((kind) => ({ kind, processes: n })));
  try {
    for (const concurrency of concurrencies) {
      const pools: Pool[] = [];
      const batch = async (pool: Pool, count: number) => {
        const before = await childCpu(pool);
        const { wall, cpu, value } = await timed(count, () =>
          runBatch(pool, calls('scrapePage', [1], count)),
        );
        const children = ((await childCpu(pool)) - before) / count;
        const failed = value.find((o) => !o.ok);
        if (failed) throw new Error(`${pool.kind}: scrapePage failed: ${failed.error.message}`);
        return { rate: 1e6 / wall, cpuMicros: cpu + children, childCpuMicros: children };
      };
      try {
        // Started together: the children of the multi-process pools start in parallel.
        pools.push(
          ...(await Promise.all(
            variants.map((v) =>
              v.processes === 0 ? kitPool(v.kind, concurrency) : kitPoolIn(v.kind, v.processes, concurrency),
            ),
          )),
        );
        // Warm-up: C keep-alive sockets opened, the HTTP client's JIT warm. At C = 1000 that takes more than the
        // 2,000 tasks it once had: the three runs after it rose run by run (9,752, 11,485 and 13,248 tasks/s for
        // event-loop x2, 2026-11-29), so it is now 10 x C tasks (a run's worth at C = 1000), each pool on its own.
        for (const pool of pools) await batch(pool, Math.min(tasks, 10 * concurrency));
        const samples = pools.map(() => [] as Array<Awaited<ReturnType<typeof batch>>>);
        for (let r = 0; r < runs; r++) {
          for (const [i, pool] of pools.entries()) samples[i]!.push(await batch(pool, tasks));
        }
        const ideal = concurrency / (latencyMs / 1000);
        for (const [i, variant] of variants.entries()) {
          const throughput = summarize(samples[i]!.map((s) => s.rate));
          points.push({
            pool: variant.kind,
            processes: variant.processes,
            concurrency,
            throughput,
            ideal,
            fraction: throughput.median / ideal,
            cpuMicros: median(samples[i]!.map((s) => s.cpuMicros)),
            childCpuMicros: median(samples[i]!.map((s) => s.childCpuMicros)),
          });
        }
      } finally {
        await Promise.all(pools.map((pool) => pool.close()));
      }
    }
  } finally {
    if (previous === undefined) delete process.env.MQ_EXAMPLE_SERVER;
    else process.env.MQ_EXAMPLE_SERVER = previous;
    server.stop();
  }
  const result: IoResult = { tasks, latencyMs, runs, points };
  if (celery) {
    try {
      result.queued = await runQueued(celery, concurrencies, latencyMs, runs);
    } catch (error) {
      // A Celery that fails (a worker that will not start, a stall) costs its rows, not the section.
      result.celerySkipped = (error as Error).message;
      celery.log(`   Celery rows of section 4 skipped: ${result.celerySkipped}`);
    }
  }
  return result;
}

/**
 * The comparison through Redis, after the pools': mini-queue's coroutines worker and Celery's workers at each C,
 * in turns. Against a server of its own: the keep-alive sockets the pools above left in the HTTP agent go idle
 * while Celery runs, and the server closes idle sockets after 30 s; a request sent on one as it closes fails
 * ("socket hang up"), so the pools' runs are kept as they were, back to back, and this phase starts afresh.
 */
async function runQueued(
  plan: CeleryIoPlan,
  concurrencies: number[],
  latencyMs: number,
  runs: number,
): Promise<NonNullable<IoResult['queued']>> {
  const server = await startServer(latencyMs);
  const previous = process.env.MQ_EXAMPLE_SERVER;
  process.env.MQ_EXAMPLE_SERVER = server.url;
  const points: QueuedIoPoint[] = [];
  try {
    for (const concurrency of concurrencies) {
      const queued = await queuedSystems(plan, concurrency, `${server.url}/page/1`);
      try {
        // Warm-up: HTTP connections opened (not all C: Celery's are slow to fill), caches warm.
        for (const q of queued) await q.batch(Math.min(concurrency, 200));
        const samples = queued.map(() => [] as QueuedSample[]);
        for (let r = 0; r < runs; r++) {
          for (const [i, q] of queued.entries()) samples[i]!.push(await q.batch(q.tasks));
        }
        const ideal = concurrency / (latencyMs / 1000);
        for (const [i, q] of queued.entries()) {
          const throughput = summarize(samples[i]!.map((x) => x.rate));
          points.push({
            system: q.system,
            concurrency,
            tasks: q.tasks,
            throughput,
            ideal,
            fraction: throughput.median / ideal,
            cpuMicros: summarize(samples[i]!.map((x) => x.cpuMicros)),
          });
        }
      } finally {
        await Promise.allSettled(queued.map((q) => q.close()));
      }
    }
  } finally {
    if (previous === undefined) delete process.env.MQ_EXAMPLE_SERVER;
    else process.env.MQ_EXAMPLE_SERVER = previous;
    server.stop();
  }
  return { tasks: plan.tasks, fewerTasks: plan.fewerTasks, points };
}

export function ioRows(result: IoResult): Row[] {
  return [...poolRows(result), ...celeryIoRows(result)];
}

/** `event-loop` or `event-loop x2 processes`. */
export function ioPoolName(point: IoPoint): string {
  return point.processes === 0 ? point.pool : `${point.pool} x${point.processes} processes`;
}

function poolRows(result: IoResult): Row[] {
  return result.points.map((point) => ({
    section: '4 I/O',
    measure: `${ioPoolName(point)}, C=${point.concurrency}: tasks/s, ${fmt(point.cpuMicros)} CPU µs each${point.processes === 0 ? '' : ' (all processes)'} (ratio: of Little)`,
    ours: `${fmt(point.throughput.median)}/s (${pct(point.fraction)})`,
    theirs: `C/latency ${fmt(point.ideal)}/s`,
    ratio: point.fraction,
    spread: spreads(point.throughput),
  }));
}

/** Celery's green threads against mini-queue's coroutines, both through Redis: ours / theirs. */
function celeryIoRows(result: IoResult): Row[] {
  const rows: Row[] = [];
  for (const theirs of result.queued?.points ?? []) {
    if (theirs.system === 'mini-queue') continue;
    const ours = result.queued!.points.find(
      (p) => p.system === 'mini-queue' && p.concurrency === theirs.concurrency,
    );
    if (!ours) continue;
    const what = `coroutines vs Celery ${CELERY_IO_RUNS[theirs.system].label}, C=${theirs.concurrency}, via Redis`;
    rows.push(
      {
        section: '4 I/O',
        measure: `${what}: tasks/s (of Little)`,
        ours: `${fmt(ours.throughput.median)}/s (${pct(ours.fraction)}; ${fmt(ours.tasks)} tasks)`,
        theirs: `Celery ${fmt(theirs.throughput.median)}/s (${pct(theirs.fraction)}; ${fmt(theirs.tasks)} tasks)`,
        ratio: ours.throughput.median / theirs.throughput.median,
        spread: spreads(ours.throughput, theirs.throughput),
      },
      {
        section: '4 I/O',
        measure: `${what}: worker CPU µs/task (ratio: less CPU)`,
        ours: `${fmt(ours.cpuMicros.median)} µs`,
        theirs: `Celery ${fmt(theirs.cpuMicros.median)} µs`,
        ratio: theirs.cpuMicros.median / ours.cpuMicros.median,
        spread: spreads(ours.cpuMicros, theirs.cpuMicros),
      },
    );
  }
  return rows;
}
