import { columns } from './style.ts';

export interface Span {
  lane: string;
  startedAt: number;
  finishedAt: number;
  /** One character drawn for this span; default '█'. */
  mark?: string;
}

/**
 * Draws one row per lane, time running left to right: which thread, process or coroutine ran what, and when.
 *
 *   main     ██ ███ ██████    ██
 *   thread-1 ████  ██████ ███████
 *            0 ms            412 ms
 *
 * A cell is filled when any span of that lane covers part of it, so overlap between lanes (parallelism) and
 * gaps within a lane (waiting, dispatch overhead) are visible at a glance.
 */
export function drawTimeline(spans: Span[], width = Math.min(columns(), 100)): string {
  if (spans.length === 0) return '(no task ran)';
  const start = Math.min(...spans.map((s) => s.startedAt));
  const end = Math.max(...spans.map((s) => s.finishedAt));
  const lanes = [...new Set(spans.map((s) => s.lane))].sort(compareLanes);
  const labelWidth = Math.min(16, Math.max(...lanes.map((l) => l.length)));
  const cells = Math.max(10, width - labelWidth - 1);
  const scale = cells / Math.max(end - start, 1e-3);
  const rows = lanes.map((lane) => {
    const row = Array.from({ length: cells }, () => ' ');
    for (const span of spans) {
      if (span.lane !== lane) continue;
      const from = Math.min(cells - 1, Math.floor((span.startedAt - start) * scale));
      const to = Math.min(cells - 1, Math.max(from, Math.ceil((span.finishedAt - start) * scale) - 1));
      for (let i = from; i <= to; i++) row[i] = span.mark ?? '█';
    }
    return `${lane.slice(0, labelWidth).padEnd(labelWidth)} ${row.join('')}`;
  });
  const total = `${(end - start).toFixed(0)} ms`;
  const axis = `${' '.repeat(labelWidth)} 0 ms${total.padStart(cells - 4)}`;
  return [...rows, axis].join('\n');
}

/** thread-2 before thread-10: numbers inside lane names compare as numbers. */
export function compareLanes(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
