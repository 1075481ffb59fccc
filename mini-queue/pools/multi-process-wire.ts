/**
 * What travels between the multi-process pool (multi-process.ts) and its children (multi-process-child.ts), over
 * the IPC channel of `fork`, as JSON. Calls and outcomes go in batches: one message per turn of either event loop.
 *
 *   pool ──{calls: [{s, call}, ...]}────────────▶ child    s: the pool's own number for the call (an id may come
 *        ◀──{done: [{s, outcome | rejected}]}──            twice: a message redelivered while it still runs)
 *        ◀──{ready} once; {failed} instead, then its exit
 *        ◀──{beat} when it has said nothing for BEAT_MS: silence means a blocked event loop
 *        ──{cpu, n}──▶ ◀──{cpu, n, usage}──               process.cpuUsage(), for benchmarks
 */
import type { TaskCall, TaskOutcome } from '../pool.ts';

/** A child says something at least this often, so silence means its event loop is blocked. */
export const BEAT_MS = 250;

/** Pool → child. */
export type ToMultiChild = { type: 'calls'; calls: WireCall[] } | { type: 'cpu'; n: number };
/** Child → pool. */
export type FromMultiChild =
  | { type: 'ready' }
  /** It could not start its pool (a tasks module that throws, a lab pool missing): why, then it exits. */
  | { type: 'failed'; error: { name: string; message: string } }
  | { type: 'done'; results: WireResult[] }
  | { type: 'beat' }
  | { type: 'cpu'; n: number; usage: NodeJS.CpuUsage };
/** A call, numbered by the pool. */
export interface WireCall {
  s: number;
  call: TaskCall;
}
/** What became of call `s`: its outcome, or the inner pool's run() rejected (that pool is broken). */
export type WireResult =
  | { s: number; outcome: TaskOutcome }
  | { s: number; rejected: { name: string; message: string } };
