import { availableParallelism, loadavg } from 'node:os';

/**
 * How much a test's time bound stretches on a busy machine: 1 with a core to spare, up to 6 (as far as the lab
 * specs' hang limits stretch) when every core is shared several ways. Other work slows start-ups, threads and
 * polls alike; what a bound proves is that the thing happens within a few seconds on a machine with room, not
 * that a loaded one keeps up. Takes the higher of the load at the test's start and now.
 */
export function loadStretch(loadAtStart = 0): number {
  const load = Math.max(loadAtStart, loadavg()[0]!);
  return Math.max(1, Math.min(6, load / availableParallelism()));
}

/** The 1-minute load average now, to pass back to loadStretch() at the end of a test. */
export function loadNow(): number {
  return loadavg()[0]!;
}
