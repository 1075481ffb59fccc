/**
 * Section 1: queue throughput. N no-op tasks enqueued in bulk, then drained by one worker at concurrency 50:
 * mini-queue (reference track, event-loop pool) against BullMQ and Bee-Queue. Each run is a fresh process
 * (bench/throughput.ts), so no system inherits another's warm JIT, sockets or garbage; the systems take turns
 * run by run, so a burst of outside load hits all of them alike.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fmt, type Row, type Summary, spreads, summarize } from './stats.ts';
import { SYSTEMS, type System, type ThroughputRun } from './throughput-run.ts';

const CHILD = fileURLToPath(new URL('./throughput.ts', import.meta.url));

export interface QueueSystemResult {
  enqueuePerSec: Summary;
  processedPerSec: Summary;
  /** CPU µs per task of the draining process: what a busy machine disturbs least. */
  cpuMicrosPerTask: Summary;
}

export interface QueueResult {
  total: number;
  concurrency: number;
  runs: number;
  systems: Record<System, QueueSystemResult>;
}

/** One run in a fresh process. */
function runChild(system: System, total: number, concurrency: number): Promise<ThroughputRun> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', CHILD, system, String(total), String(concurrency)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    proc.on('close', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as ThroughputRun);
      else reject(new Error(`${system} run failed (exit ${code}): ${out}`));
    });
  });
}

export async function runQueue(total: number, concurrency: number, runs: number): Promise<QueueResult> {
  // Warm-up: the disk cache (tsx, the libraries), Redis's memory.
  for (const system of SYSTEMS) await runChild(system, 2000, concurrency);
  const samples = Object.fromEntries(SYSTEMS.map((s) => [s, [] as ThroughputRun[]])) as Record<
    System,
    ThroughputRun[]
  >;
  for (let r = 0; r < runs; r++) {
    for (const system of SYSTEMS) samples[system].push(await runChild(system, total, concurrency));
  }
  const systems = Object.fromEntries(
    SYSTEMS.map((s) => [
      s,
      {
        enqueuePerSec: summarize(samples[s].map((x) => total / x.enqueueSeconds)),
        processedPerSec: summarize(samples[s].map((x) => total / x.processSeconds)),
        cpuMicrosPerTask: summarize(samples[s].map((x) => (x.processCpuSeconds * 1e6) / total)),
      },
    ]),
  ) as Record<System, QueueSystemResult>;
  return { total, concurrency, runs, systems };
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
  }
  return rows;
}
