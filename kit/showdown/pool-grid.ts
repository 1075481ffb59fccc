import { CELERY } from './celery.ts';
import type { ShowdownRow } from './contract.ts';
import type { ShowdownCell } from './types.ts';

/**
 * The rows of the pool × workload table the terminal and the report both show: one per pool raced (skipped ones
 * have no row), its Celery name and concurrency, then one cell per workload. Each side formats a cell its own way
 * (colours or markup); a workload the pool did not finish stays empty.
 */
export function poolGridRows<C>(
  cells: ShowdownCell[],
  workloads: string[],
  formatCell: (row: ShowdownRow) => C,
): Array<Array<string | number | C>> {
  const pools = [...new Set(cells.map((c) => c.row.pool))];
  return pools.map((pool) => {
    const mine = cells.filter((c) => c.row.pool === pool);
    return [
      pool,
      CELERY[pool],
      mine[0]?.row.concurrency ?? '',
      ...workloads.map((w) => {
        const row = mine.find((c) => c.row.workload === w)?.row;
        return row ? formatCell(row) : '';
      }),
    ];
  });
}
