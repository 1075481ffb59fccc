/**
 * Two designs measured turn about, so a change in the machine's load hits both alike. A busy laptop makes every
 * number worse; measured one after the other, it can make one design look worse than it is. Alternating
 * A B B A A B ... and taking each side's median, the comparison holds while the absolute numbers move.
 */

/** The middle value (the mean of the two middle ones for an even count); 0 for none. */
export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Runs `measure` for each side `rounds` times, in the order A B B A A B B A ... (each pair's first turn swaps, so
 * neither side always goes first), and returns every side's results in the order they were measured.
 */
export async function interleave<K extends string, T>(
  sides: readonly [K, K],
  rounds: number,
  measure: (side: K, round: number) => Promise<T>,
): Promise<Record<K, T[]>> {
  const results = { [sides[0]]: [], [sides[1]]: [] } as unknown as Record<K, T[]>;
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? sides : ([sides[1], sides[0]] as const);
    for (const side of order) results[side].push(await measure(side, round));
  }
  return results;
}
