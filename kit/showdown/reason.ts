import { CLOSE_ENOUGH, MAX_LOOP_DELAY_MS, type ShowdownRow } from './contract.ts';

/**
 * The sentence under a piece of advice (Advice.reason): the pick's figures, and what it beat when it was not
 * simply the fastest. `all` holds the rows that competed for the workload (failures left out).
 */
export function reasonFor(pick: ShowdownRow, fastest: ShowdownRow, all: ShowdownRow[] = [fastest]): string {
  const measured = `${pick.throughput.toFixed(0)} tasks/s, ${pick.speedup.toFixed(1)}x solo, main loop ${pick.loopDelayP99.toFixed(1)} ms late at p99`;
  const blocked = all.filter((r) => r.throughput > pick.throughput && r.loopDelayP99 > MAX_LOOP_DELAY_MS);
  const notes: string[] = [];
  if (pick !== fastest) {
    notes.push(
      `within ${Math.round((1 - CLOSE_ENOUGH) * 100)}% of ${fastest.pool} (${fastest.throughput.toFixed(0)} tasks/s, ` +
        `main loop ${fastest.loopDelayP99.toFixed(1)} ms late)`,
    );
  }
  if (blocked.length > 0) {
    notes.push(
      `faster but blocking the main loop over ${MAX_LOOP_DELAY_MS} ms: ` +
        blocked
          .map((r) => `${r.pool} (${r.throughput.toFixed(0)}/s, ${r.loopDelayP99.toFixed(0)} ms)`)
          .join(', '),
    );
  }
  return notes.length === 0 ? `the fastest: ${measured}` : `${measured}; ${notes.join('; ')}`;
}
