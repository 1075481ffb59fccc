import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

export interface LoopHealth<T> {
  value: T;
  /** p99 of the event loop's delay minus the histogram's resolution, ms: how late a timer fired at worst. */
  delayP99Ms: number;
  /**
   * The longest delay, ms. A loop blocked by a few long tasks yields few samples (the timer cannot fire while
   * it is blocked), so p99 can miss them; the maximum cannot.
   */
  delayMaxMs: number;
  /** Share of the time the loop was busy running JavaScript (performance.eventLoopUtilization), 0..1. */
  utilisation: number;
}

/** The resolution of the delay histogram, ms: every sample includes up to this much, so it is subtracted. */
export const LOOP_DELAY_RESOLUTION_MS = 10;
const RESOLUTION_MS = LOOP_DELAY_RESOLUTION_MS;

/**
 * Runs `work` while watching this thread's event loop (DESIGN.md "Instrumentation"): how late timers fire and
 * how busy the loop is. An I/O-bound run keeps both low; a CPU-bound task on the loop shows up as delay as long
 * as the task, which is what every request of a web app would wait.
 */
export async function withLoopHealth<T>(work: () => Promise<T>): Promise<LoopHealth<T>> {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  try {
    // The histogram's first sample is taken one interval after enable(): work that blocks the loop from this very
    // tick on would never be sampled, so let it take that first sample before the work starts.
    await new Promise((resolve) => setTimeout(resolve, RESOLUTION_MS * 2));
    const before = performance.eventLoopUtilization();
    const value = await work();
    // A loop blocked until the very end has not yet sampled that block: the histogram's timer records it when it
    // next fires, so give it one turn before reading.
    await new Promise((resolve) => setTimeout(resolve, RESOLUTION_MS * 2));
    const utilisation = performance.eventLoopUtilization(before).utilization;
    // The histogram counts nanoseconds.
    const p99 = histogram.percentile(99) / 1e6;
    return {
      value,
      delayP99Ms: Math.max(0, p99 - RESOLUTION_MS),
      delayMaxMs: Math.max(0, histogram.max / 1e6 - RESOLUTION_MS),
      utilisation,
    };
  } finally {
    histogram.disable();
  }
}
