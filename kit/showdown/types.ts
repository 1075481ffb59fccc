/**
 * What lab 06's demo measures and its report draws: the web demo's two rush hours, one showdown cell per pool ×
 * workload, and the advice. The row and the advice are the lab's contract (contract.ts).
 */
import type { RushHourResult } from '../../mini-queue/examples/visitors.ts';
import type { Span } from '../ui/timeline.ts';
import type { Advice, ShowdownRow } from './contract.ts';

/** The web demo: /health under load with the heavy work inline, then offloaded, and the thumbnail it made. */
export interface WebResult {
  inline: RushHourResult;
  offload: RushHourResult;
  /** Inline /health p99 over offloaded /health p99: the figure held against RATIO. */
  ratio: number;
  /** Thumbnail size asked for, and its CPU time on this machine, ms. */
  size: number;
  ms: number;
}

/** A workload of the showdown. */
export interface Workload {
  name: string;
  /** The i-th task of this workload: a name and its arguments. */
  make: (i: number) => [string, unknown[]];
}

/** One pool on one workload: the row recommendPool() reads, and the spans the timeline draws. */
export interface ShowdownCell {
  row: ShowdownRow;
  spans: Span[];
}

/** Everything the HTML report shows: a part that did not run (`--part`) is left out. */
export interface ShowdownReport {
  web?: WebResult;
  cells: ShowdownCell[];
  advice: Advice[];
  /**
   * The main-loop delay (p99, ms) over which recommendPool() counts a pool unhealthy: the contract's
   * MAX_LOOP_DELAY_MS, passed in so the page and the advice use one bar.
   */
  loopLimitMs: number;
  cores: number;
  /** Node's version, e.g. `20.19.5`. */
  node: string;
}
