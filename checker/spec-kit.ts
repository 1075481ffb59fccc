/**
 * What every lab spec uses: which track it grades, the lab's part loaded from that track, a unique queue per
 * test with clean-up, and a way to record measurements for the report.
 */

import { appendFileSync } from 'node:fs';
import { dropThrowaways, throwaway } from '../kit/throwaway.ts';
import type { Span } from '../kit/ui/timeline.ts';
import { partFile, type Track, trackFolder } from '../mini-queue/parts.ts';
import type { TaskCall, TaskOutcome } from '../mini-queue/pool.ts';
import { random } from '../mini-queue/random.ts';

/**
 * The track under test: MQ_TRACK (set by `npm run check`), `labs` by default. Any track folder: the kit's own
 * tests grade `.variant-<name>` copies of the solutions (checker/variants.ts).
 */
export function trackUnderTest(): Track {
  return trackFolder(process.env.MQ_TRACK ?? 'labs');
}

/** Imports a file of a lab's part from the track under test, e.g. `partModule('00-broker', 'broker.ts')`. */
export async function partModule<T>(lab: string, file: string): Promise<T> {
  return (await import(partFile(trackUnderTest(), lab, file).href)) as T;
}

let counter = 0;

/** A queue name no other test (or run) uses. */
export function uniqueQueue(prefix: string): string {
  // Registered as throw-away: its keys get a TTL while the spec runs, and a spec killed by the grader (time-out,
  // Ctrl-C) has them reaped by the next run instead of left for ever.
  return throwaway(`check-${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`);
}

/** Removes every key of the given queues. */
export const cleanQueues = dropThrowaways;

/** Records a measurement for the check report (speedup, throughput, delay...). */
export function record(name: string, value: number, unit = ''): void {
  const file = process.env.MQ_CHECK_MEASUREMENTS;
  if (file) appendFileSync(file, `${JSON.stringify({ name, value, unit })}\n`);
}

/** Records the event loop's health during a run (`kind`: I/O-bound, CPU-bound...): its delay p99 and utilisation. */
export function recordLoopHealth(kind: string, health: { delayP99Ms: number; utilisation: number }): void {
  record(`loop p99 delay, ${kind}`, Number(health.delayP99Ms.toFixed(1)), ' ms');
  record(`loop utilisation, ${kind}`, Number((health.utilisation * 100).toFixed(0)), '%');
}

/**
 * Records who ran what, when (one span per task, its lane and times) for the report's per-lane timeline.
 * Only the lane and times travel: a task's value can be large or not JSON.
 */
export function recordTimeline(label: string, spans: Span[]): void {
  const file = process.env.MQ_CHECK_MEASUREMENTS;
  if (!file || spans.length === 0) return;
  const lean = spans.map(({ lane, startedAt, finishedAt }) => ({ lane, startedAt, finishedAt }));
  appendFileSync(file, `${JSON.stringify({ timeline: label, spans: lean })}\n`);
}

/** The chaos seed given by `npm run check -- --repeat N --seed S` (MQ_CHAOS_SEED), or undefined without one. */
export function chaosSeedGiven(): number | undefined {
  const raw = process.env.MQ_CHAOS_SEED;
  return raw === undefined || raw === '' ? undefined : Number(raw);
}

/**
 * The chaos seed of this run: the one given (see chaosSeedGiven), else 1, so a plain check is reproducible too.
 * Specs draw kill times and victims from `chaosRandom()`.
 */
export function chaosSeedOfRun(): number {
  return chaosSeedGiven() ?? 1;
}

/** A seeded random sequence for this run's chaos (see chaosSeedOfRun). */
export function chaosRandom(): () => number {
  return random(chaosSeedOfRun());
}

/** The reference solution's measurements on this machine, when the checker runs with --calibrate. */
export function referenceMeasurement(name: string): number | undefined {
  const raw = process.env.MQ_REFERENCE_MEASUREMENTS;
  if (!raw) return undefined;
  const value = (JSON.parse(raw) as Record<string, number>)[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * The speedup a parallel pool must reach at `workers` workers in the check: 0.6·p (lenient: noisy laptops,
 * shared CI; the benchmark carries the ambitious 0.9·p). With --calibrate, when the reference itself reached
 * less on this machine, 80% of the reference's figure instead: a slow or busy laptop is not held to a bar its
 * own reference cannot clear. `measurement` names the figure recorded with record().
 */
export function speedupBar(workers: number, measurement: string): number {
  const lenient = 0.6 * workers;
  const reference = referenceMeasurement(measurement);
  return reference === undefined ? lenient : Math.min(lenient, 0.8 * reference);
}

/**
 * Records a speedup curve, one `T(p)` figure (seconds) per worker count; the checker turns it into S, E,
 * Karp–Flatt e, an Amdahl fit and a chart (kit/speedup.ts).
 */
export function recordCurve(points: Array<{ workers: number; seconds: number }>): void {
  for (const { workers, seconds } of points) record(`T(${workers})`, Number(seconds.toFixed(4)), 's');
}

/** A pool call with a fresh id. */
export function call(task: string, args: unknown[] = [], extra: Partial<TaskCall> = {}): TaskCall {
  return { id: `${task}-${Math.random().toString(36).slice(2, 10)}`, task, args, attempt: 0, ...extra };
}

/** Fails with `what` instead of hanging until vitest's timeout: a lost call is a flaw to name. */
export function within<T>(promise: T | Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    Promise.resolve(promise),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`expected ${what} within ${ms} ms: it hung`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** An outcome as a failure message shows it: a stub's TODO text travels in error.message. */
export function show(o: TaskOutcome): string {
  return o.ok ? `ok ${JSON.stringify(o.value)} on ${o.lane}` : `${o.error.name}: ${o.error.message}`;
}
