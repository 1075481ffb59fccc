import { UserError } from './errors.ts';

/** A whole-number command-line flag, or one line saying what was expected and what came. */
export function integerFlag(value: string, flag: string, min = 1): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min) {
    throw new UserError(`${flag} must be an integer >= ${min}, got '${value}'`);
  }
  return n;
}
