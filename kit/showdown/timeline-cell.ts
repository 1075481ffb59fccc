import type { Advice } from './contract.ts';
import type { ShowdownCell } from './types.ts';

/**
 * The cell whose timeline is shown, in the terminal and in the report alike: the pool advised for CPU work (the
 * one where lanes side by side are the point), else the first piece of advice.
 */
export function timelineCell(cells: ShowdownCell[], advised: Advice[]): ShowdownCell | undefined {
  const pick = advised.find((a) => a.workload === 'CPU') ?? advised[0];
  return pick && cells.find((c) => c.row.pool === pick.pool && c.row.workload === pick.workload);
}
