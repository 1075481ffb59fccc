import { performance } from 'node:perf_hooks';

/**
 * Epoch milliseconds with sub-millisecond precision. Date.now() ticks in whole ms, too coarse for a timeline of
 * short tasks; performance.now() alone is relative to each thread's or process's own start, so we anchor it.
 */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** `promise`'s value, or undefined once `ms` have passed first (the promise is left to settle on its own). */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
