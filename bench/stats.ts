/**
 * What every section reports: the median of several timed runs and how much they disagree, plus the rows of the
 * one summary table `npm run bench` prints at the end.
 */
import { median, spread } from '../kit/speedup.ts';

export interface Summary {
  median: number;
  /** (max - min) / median of the samples: a spread of 30% says the machine was busy, not that we were slow. */
  spread: number;
  samples: number[];
}

export function summarize(samples: number[]): Summary {
  return { median: median(samples), spread: spread(samples), samples };
}

/** One line of the summary table: our figure, the one we compare it with, and ours / theirs. */
export interface Row {
  section: string;
  measure: string;
  ours: string;
  /** What the figure is compared with: a peer, or a physical limit. */
  theirs: string;
  /** ours / theirs, oriented so that > 1 is better for us. */
  ratio: number | undefined;
  spread: string;
}

/** Seconds since `started` (a performance.now() reading). */
export function since(started: number): number {
  return (performance.now() - started) / 1000;
}

/**
 * Wall and CPU µs per task of one batch of `tasks`, and what the batch returned. The CPU is the whole process's,
 * main thread and pool threads alike.
 */
export async function timed<T>(
  tasks: number,
  batch: () => Promise<T>,
): Promise<{ wall: number; cpu: number; value: T }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const value = await batch();
  const wall = (since(started) * 1e6) / tasks;
  const used = process.cpuUsage(cpu);
  return { wall, cpu: (used.user + used.system) / tasks, value };
}

export function pct(value: number): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(0)}%` : '-';
}

export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return '-';
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** The spreads of both sides of a comparison, "ours / theirs". */
export function spreads(...summaries: Summary[]): string {
  return summaries.map((s) => pct(s.spread)).join(' / ');
}
