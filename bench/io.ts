/**
 * Section 4: I/O concurrency. 10k I/O tasks (scrapePage: a real HTTP GET) against the loopback server, which
 * holds each response `latency` ms, through the event-loop and coroutine pools at C = 100 and 1000. Little's law
 * bounds throughput at C / latency (C requests always in flight, each taking `latency`); the figure is the
 * fraction of that reached. The server runs in its own process; runs alternate between the pools.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { calls, runBatch } from '../kit/parallel.ts';
import { median } from '../kit/speedup.ts';
import type { Pool } from '../mini-queue/pool.ts';
import { kitPool } from './pools.ts';
import { fmt, pct, type Row, type Summary, spreads, summarize, timed } from './stats.ts';

export const IO_POOLS = ['event-loop', 'coroutines'] as const;

export interface IoPoint {
  pool: (typeof IO_POOLS)[number];
  concurrency: number;
  /** tasks/s, median of the runs. */
  throughput: Summary;
  /** C / latency, tasks/s. */
  ideal: number;
  /** throughput / ideal. */
  fraction: number;
  /**
   * CPU time of this process per task, µs (median run): 1e6 / this is the most tasks/s one core can drive,
   * whatever C is. Where it is below C / latency, the CPU (the HTTP client, mostly), not the pool, is the limit.
   */
  cpuMicros: number;
}

export interface IoResult {
  tasks: number;
  latencyMs: number;
  runs: number;
  points: IoPoint[];
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

export async function runIo(tasks: number, concurrencies: number[], latencyMs: number, runs: number) {
  const server = await startServer(latencyMs);
  // The example tasks send their requests wherever MQ_EXAMPLE_SERVER points, read at each call.
  const previous = process.env.MQ_EXAMPLE_SERVER;
  process.env.MQ_EXAMPLE_SERVER = server.url;
  const points: IoPoint[] = [];
  try {
    for (const concurrency of concurrencies) {
      const pools: Pool[] = [];
      for (const kind of IO_POOLS) pools.push(await kitPool(kind, concurrency));
      const batch = async (pool: Pool, count: number) => {
        const { wall, cpu, value } = await timed(count, () =>
          runBatch(pool, calls('scrapePage', [1], count)),
        );
        const failed = value.find((o) => !o.ok);
        if (failed) throw new Error(`${pool.kind}: scrapePage failed: ${failed.error.message}`);
        return { rate: 1e6 / wall, cpuMicros: cpu };
      };
      try {
        // Warm-up: C keep-alive sockets opened, the HTTP client's JIT warm.
        for (const pool of pools) await batch(pool, 2 * concurrency);
        const samples = pools.map(() => [] as Array<{ rate: number; cpuMicros: number }>);
        for (let r = 0; r < runs; r++) {
          for (const [i, pool] of pools.entries()) samples[i]!.push(await batch(pool, tasks));
        }
        const ideal = concurrency / (latencyMs / 1000);
        for (const [i, kind] of IO_POOLS.entries()) {
          const throughput = summarize(samples[i]!.map((s) => s.rate));
          const cpuMicros = median(samples[i]!.map((s) => s.cpuMicros));
          points.push({
            pool: kind,
            concurrency,
            throughput,
            ideal,
            fraction: throughput.median / ideal,
            cpuMicros,
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
  return { tasks, latencyMs, runs, points } satisfies IoResult;
}

export function ioRows(result: IoResult): Row[] {
  return result.points.map((point) => ({
    section: '4 I/O',
    measure: `${point.pool}, C=${point.concurrency}: tasks/s, ${fmt(point.cpuMicros)} CPU µs each (ratio: of Little)`,
    ours: `${fmt(point.throughput.median)}/s (${pct(point.fraction)})`,
    theirs: `C/latency ${fmt(point.ideal)}/s`,
    ratio: point.fraction,
    spread: spreads(point.throughput),
  }));
}
