/**
 * Speedup arithmetic, measured honestly (DESIGN.md "Measuring speedup honestly").
 *
 *   S(p) = T(1) / T(p)          speedup on p workers
 *   E(p) = S(p) / p             efficiency: 1 is perfect
 *   e(p) = (1/S - 1/p) / (1 - 1/p)   Karp–Flatt: the serial fraction this one point implies
 *   Amdahl: S(p) = 1 / (f + (1 - f) / p), with f fitted to all points by least squares
 */

export interface Point {
  workers: number;
  seconds: number;
}

export interface SpeedupPoint extends Point {
  speedup: number;
  efficiency: number;
  /** Karp–Flatt serial fraction; undefined at p = 1, where it is not defined. */
  karpFlatt: number | undefined;
}

export interface SpeedupAnalysis {
  points: SpeedupPoint[];
  /** Amdahl serial fraction f fitted to the points with 1 < p ≤ cores, in [0, 1]. */
  serialFraction: number;
  /**
   * Speedups the fit predicts for bigger machines; absent when the fit means nothing (fewer than two points with
   * 1 < p ≤ cores: on a 2-core machine one point fixes f by itself, and noise becomes a prediction).
   */
  predicted?: Record<8 | 16 | 64, number>;
  /** Why there is no prediction, in words for the report. */
  fitNote?: string;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** (max - min) / median: how much the repeats disagree. */
export function spread(values: number[]): number {
  return values.length === 0 ? Number.NaN : (Math.max(...values) - Math.min(...values)) / median(values);
}

/**
 * Karp–Flatt e, a serial fraction: defined for p > 1 and meaningful only in [0, 1]. A run slower than one worker
 * (S < 1) gives e > 1 and a superlinear one e < 0: neither is a fraction of anything, so both are undefined.
 */
export function karpFlatt(speedup: number, workers: number): number | undefined {
  if (workers <= 1) return undefined;
  const e = (1 / speedup - 1 / workers) / (1 - 1 / workers);
  return e >= -1e-9 && e <= 1 + 1e-9 ? Math.min(1, Math.max(0, e)) : undefined;
}

export function amdahl(serialFraction: number, workers: number): number {
  return 1 / (serialFraction + (1 - serialFraction) / workers);
}

/**
 * Least-squares fit of Amdahl's f. Written as 1/S - 1/p = f (1 - 1/p), it is a line through the origin:
 * f = Σxy / Σx² with x = 1 - 1/p and y = 1/S - 1/p. Clamped to [0, 1]: noise can push a point past ideal.
 */
export function fitSerialFraction(points: Array<{ workers: number; speedup: number }>): number {
  let xy = 0;
  let xx = 0;
  for (const { workers, speedup } of points) {
    if (workers <= 1) continue;
    const x = 1 - 1 / workers;
    xy += x * (1 / speedup - 1 / workers);
    xx += x * x;
  }
  return xx === 0 ? 0 : Math.min(1, Math.max(0, xy / xx));
}

/**
 * Speedups against the p = 1 point (the first point must be p = 1). With `cores`, the Amdahl fit takes only the
 * points with p ≤ cores (past the cores, workers share them and the curve flattens for that reason alone), and
 * predicts nothing from fewer than two such points.
 */
export function analyse(measured: Point[], cores?: number): SpeedupAnalysis {
  const base = measured.find((p) => p.workers === 1);
  if (!base) throw new Error('a speedup analysis needs a run at 1 worker');
  const points = measured.map((p) => {
    const speedup = base.seconds / p.seconds;
    return { ...p, speedup, efficiency: speedup / p.workers, karpFlatt: karpFlatt(speedup, p.workers) };
  });
  const fitted = cores === undefined ? points : points.filter((p) => p.workers <= cores);
  const serialFraction = fitSerialFraction(fitted);
  if (cores !== undefined && fitted.filter((p) => p.workers > 1).length < 2) {
    return {
      points,
      serialFraction,
      fitNote: `not measurable on P = ${cores}: an Amdahl fit needs speedups at two or more worker counts between 2 and the core count`,
    };
  }
  return {
    points,
    serialFraction,
    predicted: {
      8: amdahl(serialFraction, 8),
      16: amdahl(serialFraction, 16),
      64: amdahl(serialFraction, 64),
    },
  };
}

/**
 * An ASCII chart of speedup against workers: measured (●), ideal (·), the Amdahl fit (-).
 *
 *   S
 *   3 |        ·
 *   2 |   ● -
 *   1 ●
 *     +----------- p
 */
export function speedupChart(analysis: SpeedupAnalysis, height = 10, width = 48): string {
  const maxP = Math.max(...analysis.points.map((p) => p.workers));
  const maxS = Math.max(maxP, ...analysis.points.map((p) => p.speedup));
  const grid = Array.from({ length: height + 1 }, () => Array.from({ length: width + 1 }, () => ' '));
  const col = (p: number) => Math.round(((p - 1) / Math.max(1, maxP - 1)) * width);
  const row = (s: number) => height - Math.round((Math.min(s, maxS) / maxS) * height);
  for (let c = 0; c <= width; c++) {
    const p = 1 + (c / width) * (maxP - 1);
    grid[row(p)]![c] = '·';
    if (!analysis.predicted) continue;
    const fitted = row(amdahl(analysis.serialFraction, p));
    if (grid[fitted]![c] === ' ') grid[fitted]![c] = '-';
  }
  for (const point of analysis.points) grid[row(point.speedup)]![col(point.workers)] = '●';
  const label = (r: number) => ((maxS * (height - r)) / height).toFixed(1).padStart(5);
  const lines = grid.map((cells, r) => `${r % 2 === 0 ? label(r) : '     '} |${cells.join('')}`);
  const axis = `      +${'-'.repeat(width + 1)}`;
  const ticks = `       1${String(maxP).padStart(width)} workers`;
  return [
    ...lines,
    axis,
    ticks,
    analysis.predicted
      ? `       ● measured  · ideal  - Amdahl fit (serial fraction ${analysis.serialFraction.toFixed(3)})`
      : `       ● measured  · ideal  (no Amdahl fit: ${analysis.fitNote ?? 'not measurable'})`,
  ].join('\n');
}

/**
 * How many tasks ran at once, on average, while any ran: Σ durations / |union of the intervals|. 1 for tasks
 * run one after another, p when p lanes were always busy together. Unlike a wall-clock speedup it ignores the
 * gaps between tasks (a fork and a Node start-up per task, outside load pausing everyone), so it grades whether
 * the work itself ran in parallel, taken from the tasks' own clocks.
 */
export function parallelism(spans: Array<{ startedAt: number; finishedAt: number }>): number {
  if (spans.length === 0) return 0;
  const sorted = [...spans].sort((a, b) => a.startedAt - b.startedAt);
  let busy = 0;
  let total = 0;
  let start = sorted[0]!.startedAt;
  let end = sorted[0]!.finishedAt;
  for (const span of sorted) {
    total += span.finishedAt - span.startedAt;
    if (span.startedAt > end) {
      busy += end - start;
      start = span.startedAt;
      end = span.finishedAt;
    } else end = Math.max(end, span.finishedAt);
  }
  busy += end - start;
  return busy > 0 ? total / busy : 1;
}
