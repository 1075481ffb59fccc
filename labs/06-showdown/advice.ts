/**
 * Lab 06 — which pool for which work, decided by the measurements.
 *
 * Goal: the finale. The demo runs the same three workloads (I/O-bound, CPU-bound, mixed) through every pool and
 * fills one row per pool × workload. recommendPool() turns that table into advice, one pool per workload, from
 * the numbers alone: Celery's docs say `-P prefork` for CPU and `-P gevent` for I/O, and this machine gets to
 * agree or not.
 *
 * Pass: `npm run check -- 06` feeds recommendPool() made-up tables where different pools win: a hard-coded answer
 * fails them. `npx tsx labs/06-showdown` prints its advice under the real table.
 *
 * Try this to break it: return `prefork` for every workload. The demo's advice still reads plausibly for CPU; the
 * check's table where coroutines win the CPU work (a made-up machine) catches it.
 */
import { NotImplemented } from '../../mini-queue/errors.ts';
import type { PoolKind } from '../../mini-queue/pool.ts';

/** One pool × one workload, as the showdown measured it. */
export interface ShowdownRow {
  pool: PoolKind;
  /** `I/O`, `CPU` or `mixed` in the demo; any name works. */
  workload: string;
  /** Lanes the pool ran at once. */
  concurrency: number;
  /** Tasks run, and how many of them failed. */
  tasks: number;
  failed: number;
  seconds: number;
  /** Tasks per second. */
  throughput: number;
  /** Throughput against solo's on the same workload (1 for solo itself). */
  speedup: number;
  /**
   * How late the main thread's timers fired while the pool worked: monitorEventLoopDelay's p99 minus its
   * resolution, ms. A worker whose loop is blocked cannot renew its leases, answer a health check or even notice
   * a shutdown signal.
   */
  loopDelayP99: number;
}

/** The pool to use for one workload, and why, in a sentence the demo can print. */
export interface Advice {
  workload: string;
  pool: PoolKind;
  throughput: number;
  speedup: number;
  reason: string;
}

/** Pools this close to the fastest one (as a share of its throughput) count as just as fast. */
export const CLOSE_ENOUGH = 0.9;

/**
 * A worker whose main loop runs its timers later than this (p99, ms) is unhealthy whatever its throughput: its
 * lease renewals, heartbeats and shutdown signal all wait that long.
 */
export const MAX_LOOP_DELAY_MS = 100;

/**
 * One piece of advice per workload, in the order the workloads first appear in `rows`. Only pools that ran every
 * task of that workload without a failure compete, and only those whose main loop stayed under
 * MAX_LOOP_DELAY_MS (unless none did: then all of them). Among them, the fastest; but when several are within
 * CLOSE_ENOUGH of the fastest, the one whose main loop stayed the freest (lowest loopDelayP99). A workload where
 * every pool failed gets no advice.
 */
export function recommendPool(rows: ShowdownRow[]): Advice[] {
  // TODO(06.3): for each workload (in the order they first appear), keep the rows without failures, and of those
  // the ones whose loopDelayP99 <= MAX_LOOP_DELAY_MS (if any). Find the fastest; among the rows within
  // CLOSE_ENOUGH of its throughput, pick the lowest loopDelayP99. Push { workload, pool, throughput, speedup,
  // reason: reasonFor(pick, fastest, rowsWithoutFailures) }. Never name a pool in your code.
  throw new NotImplemented(
    '06.3',
    `recommendPool(): from ${rows.length} measured rows, the fastest healthy pool per workload (main loop <= ${MAX_LOOP_DELAY_MS} ms; near-ties within ${CLOSE_ENOUGH}: the freest loop)`,
  );
}

// Don't change below this line.

/** The sentence under a piece of advice: the pick's figures, and what it beat when it was not simply the fastest. */
export function reasonFor(pick: ShowdownRow, fastest: ShowdownRow, all: ShowdownRow[] = [fastest]): string {
  const measured = `${pick.throughput.toFixed(0)} tasks/s, ${pick.speedup.toFixed(1)}x solo, main loop ${pick.loopDelayP99.toFixed(1)} ms late at p99`;
  const blocked = all.filter((r) => r.throughput > pick.throughput && r.loopDelayP99 > MAX_LOOP_DELAY_MS);
  const notes: string[] = [];
  if (pick !== fastest) {
    notes.push(
      `within ${Math.round((1 - CLOSE_ENOUGH) * 100)}% of ${fastest.pool} (${fastest.throughput.toFixed(0)} tasks/s, ` +
        `main loop ${fastest.loopDelayP99.toFixed(1)} ms late)`,
    );
  }
  if (blocked.length > 0) {
    notes.push(
      `faster but blocking the main loop over ${MAX_LOOP_DELAY_MS} ms: ` +
        blocked
          .map((r) => `${r.pool} (${r.throughput.toFixed(0)}/s, ${r.loopDelayP99.toFixed(0)} ms)`)
          .join(', '),
    );
  }
  return notes.length === 0 ? `the fastest: ${measured}` : `${measured}; ${notes.join('; ')}`;
}
