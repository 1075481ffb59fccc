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
import { NotImplemented } from '../../mini-queue/errors.ts';

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
    'no recommendation is drawn from the measured table yet: the demo prints none under it, and made-up tables get none',
  );
}
