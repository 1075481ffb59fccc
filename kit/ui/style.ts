/** Terminal colours that respect NO_COLOR (https://no-color.org) and plain pipes. */
const enabled = process.stdout.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== 'dumb';

const wrap = (open: number, close: number) => (text: string) =>
  enabled ? `\x1b[${open}m${text}\x1b[${close}m` : text;

export const style = {
  bold: wrap(1, 22),
  dim: wrap(2, 22),
  red: wrap(31, 39),
  green: wrap(32, 39),
  yellow: wrap(33, 39),
  cyan: wrap(36, 39),
};

export const colour = enabled;

/** Terminal width, 80 when unknown (pipes, CI). */
export function columns(): number {
  return Math.max(40, process.stdout.columns || 80);
}
