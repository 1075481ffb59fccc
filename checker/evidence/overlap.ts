/** How runs overlapped, from their own start and finish times (an outcome's or a span's startedAt/finishedAt). */
export interface Timed {
  startedAt: number;
  finishedAt: number;
}

/**
 * The most runs in progress at one instant. A run that finishes exactly when another starts does not overlap it.
 * Evidence that holds on a busy machine: load stretches each run, it never makes runs that waited side by side
 * look serial, nor serial runs look side by side.
 */
export function maxOverlap(runs: readonly Timed[]): number {
  const edges = runs.flatMap((r) => [
    { at: r.startedAt, step: 1 },
    { at: r.finishedAt, step: -1 },
  ]);
  // Ends before starts at the same instant.
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let now = 0;
  let most = 0;
  for (const edge of edges) {
    now += edge.step;
    most = Math.max(most, now);
  }
  return most;
}
