import Table from 'cli-table3';
import { colour } from './style.ts';

/** A table that fits an 80-column terminal and stays plain ASCII-friendly on pipes. */
export function table(head: string[], rows: Array<Array<string | number>>): string {
  const t = new Table({
    head,
    style: { head: colour ? ['cyan'] : [], border: colour ? ['grey'] : [] },
  });
  for (const row of rows) t.push(row.map(String));
  return t.toString();
}
