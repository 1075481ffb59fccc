/**
 * Lab 06 — which pool for which work, decided by the measurements.
 *
 * Goal: the finale. The demo runs the same three workloads (I/O-bound, CPU-bound, mixed) through every pool and
 * fills one row per pool × workload. recommendPool() turns that table into advice, one pool per workload, from
 * the numbers alone: Celery's docs say `-P prefork` for CPU and `-P gevent` for I/O, and this machine gets to
 * agree or not. The row, the advice and the two thresholds are kit/showdown/contract.ts.
 *
 * Pass: `npm run check -- 06` feeds recommendPool() made-up tables where different pools win: a hard-coded answer
 * fails them. `npx tsx labs/06-showdown` prints its advice under the real table.
 *
 * Try this to break it: return `prefork` for every workload. The demo's advice still reads plausibly for CPU; the
 * check's table where coroutines win the CPU work (a made-up machine) catches it.
 */
import {
  type Advice,
  CLOSE_ENOUGH,
  MAX_LOOP_DELAY_MS,
  type ShowdownRow,
} from '../../kit/showdown/contract.ts';
import { reasonFor } from '../../kit/showdown/reason.ts';

/**
 * One piece of advice per workload, in the order the workloads first appear in `rows`. Only pools that ran every
 * task of that workload without a failure compete, and only those whose main loop stayed under
 * MAX_LOOP_DELAY_MS (unless none did: then all of them). Among them, the fastest; but when several are within
 * CLOSE_ENOUGH of the fastest, the one whose main loop stayed the freest (lowest loopDelayP99). A workload where
 * every pool failed gets no advice.
 */
export function recommendPool(rows: ShowdownRow[]): Advice[] {
  const advice: Advice[] = [];
  for (const workload of [...new Set(rows.map((r) => r.workload))]) {
    // (06.3) the numbers decide, never a list of names: no failures, a loop that can renew leases, then speed.
    const succeeded = rows.filter((r) => r.workload === workload && r.failed === 0 && r.throughput > 0);
    if (succeeded.length === 0) continue;
    const healthy = succeeded.filter((r) => r.loopDelayP99 <= MAX_LOOP_DELAY_MS);
    const candidates = healthy.length > 0 ? healthy : succeeded;
    const fastest = candidates.reduce((a, b) => (b.throughput > a.throughput ? b : a));
    const pick = candidates
      .filter((r) => r.throughput >= CLOSE_ENOUGH * fastest.throughput)
      .reduce((a, b) =>
        b.loopDelayP99 < a.loopDelayP99 || (b.loopDelayP99 === a.loopDelayP99 && b.throughput > a.throughput)
          ? b
          : a,
      );
    advice.push({
      workload,
      pool: pick.pool,
      throughput: pick.throughput,
      speedup: pick.speedup,
      reason: reasonFor(pick, fastest, succeeded),
    });
  }
  return advice;
}
