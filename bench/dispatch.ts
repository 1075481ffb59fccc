/**
 * Section 2: dispatch overhead. 100k no-op calls through the kit's threads pool (lab 03's reference) and through
 * piscina, the same number of threads, all given at once as a busy worker would: what is left is the cost of
 * handing a task to a thread and getting its outcome back, in µs per task. Runs alternate between the two pools
 * so a burst of outside load hits both alike.
 */
import { calls, runBatch } from '../kit/parallel.ts';
import { kitPool, piscinaPool } from './pools.ts';
import { fmt, type Row, type Summary, since, spreads, summarize, timed } from './stats.ts';

export interface DispatchResult {
  tasks: number;
  threads: number;
  runs: number;
  /** µs per task (wall time of the batch / tasks). */
  oursMicros: Summary;
  piscinaMicros: Summary;
  /**
   * CPU time of the whole process (main thread and pool threads) per task, µs: when it is well under the wall
   * time times the threads busy, the batch waited on wake-ups (a thread idle between two messages), not on work.
   */
  oursCpuMicros: Summary;
  piscinaCpuMicros: Summary;
  /** piscina µs / ours µs: > 1 when our pool is faster. */
  ratio: number;
}

const BUDGET_SECONDS = 40;

export async function runDispatch(threads: number, tasks: number, runs: number): Promise<DispatchResult> {
  const ours = await kitPool('threads', threads);
  const piscina = piscinaPool(threads);
  const oursBatch = (n: number) => {
    const batch = calls('noop', [], n); // built before the clock starts: we time dispatch, not ids
    return timed(n, async () => {
      const outcomes = await runBatch(ours, batch);
      if (outcomes.some((o) => !o.ok)) throw new Error('a no-op failed in the threads pool');
    });
  };
  const piscinaBatch = (n: number) => {
    const call = { task: 'noop', args: [] };
    return timed(n, async () => {
      await Promise.all(Array.from({ length: n }, () => piscina.run(call)));
    });
  };
  try {
    // Warm-up: threads started and the tasks module loaded in each, the JIT warm on both sides.
    await oursBatch(tasks / 10);
    await piscinaBatch(tasks / 10);
    const o: Array<{ wall: number; cpu: number }> = [];
    const p: Array<{ wall: number; cpu: number }> = [];
    const started = performance.now();
    for (let r = 0; r < runs; r++) {
      o.push(await oursBatch(tasks));
      p.push(await piscinaBatch(tasks));
      // On a machine so busy that a no-op costs 100 µs, stop at two runs each: the whole bench must stay under
      // five minutes. The report says how many runs there were.
      if (r >= 1 && since(started) > BUDGET_SECONDS) break;
    }
    const oursMicros = summarize(o.map((x) => x.wall));
    const piscinaMicros = summarize(p.map((x) => x.wall));
    return {
      tasks,
      threads,
      runs: o.length,
      oursMicros,
      piscinaMicros,
      oursCpuMicros: summarize(o.map((x) => x.cpu)),
      piscinaCpuMicros: summarize(p.map((x) => x.cpu)),
      ratio: piscinaMicros.median / oursMicros.median,
    };
  } finally {
    await Promise.all([ours.close(), piscina.close()]);
  }
}

export function dispatchRows(result: DispatchResult): Row[] {
  return [
    {
      section: '2 dispatch',
      measure: `${fmt(result.tasks)} no-ops, ${result.threads} threads: wall µs/task (ratio: speed)`,
      ours: `${fmt(result.oursMicros.median, 2)} µs`,
      theirs: `piscina ${fmt(result.piscinaMicros.median, 2)} µs`,
      ratio: result.ratio,
      spread: spreads(result.oursMicros, result.piscinaMicros),
    },
    {
      section: '2 dispatch',
      measure: 'CPU µs/task, all threads (ratio: less CPU)',
      ours: `${fmt(result.oursCpuMicros.median, 2)} µs`,
      theirs: `piscina ${fmt(result.piscinaCpuMicros.median, 2)} µs`,
      ratio: result.piscinaCpuMicros.median / result.oursCpuMicros.median,
      spread: spreads(result.oursCpuMicros, result.piscinaCpuMicros),
    },
  ];
}
