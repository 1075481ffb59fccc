import { performance } from 'node:perf_hooks';

/**
 * Epoch milliseconds with sub-millisecond precision. Date.now() ticks in whole ms, too coarse for a timeline of
 * short tasks; performance.now() alone is relative to each thread's or process's own start, so we anchor it.
 */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
