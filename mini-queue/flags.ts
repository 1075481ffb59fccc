import type { ParseArgsConfig } from 'node:util';
import { UserError } from './errors.ts';

/** A whole-number command-line flag, or one line saying what was expected and what came. */
export function integerFlag(value: string, flag: string, min = 1, max?: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || (max !== undefined && n > max)) {
    const range = max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
    throw new UserError(`${flag} must be an integer ${range}, got '${value}'`);
  }
  return n;
}

const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/**
 * `--count -1` as `--count=-1` (and `-n -1` as `-n-1`), so a negative value reaches the flag's own check, which
 * says what range it takes, instead of node's parseArgs calling it "ambiguous". No flag is named by a digit, so
 * a word that reads as a negative number after a flag that takes a value can only be that value.
 */
export function joinNegativeValues(
  args: string[],
  options: NonNullable<ParseArgsConfig['options']>,
): string[] {
  const takesValue = new Map<string, string>();
  for (const [name, option] of Object.entries(options)) {
    if (option.type !== 'string') continue;
    takesValue.set(`--${name}`, `--${name}=`);
    if (option.short) takesValue.set(`-${option.short}`, `-${option.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    const joined = takesValue.get(arg);
    const next = args[i + 1];
    if (joined !== undefined && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(`${joined}${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** Whether a word on the command line reads as a negative number (`-1`, `-0.5`). */
export function isNegativeNumber(arg: string): boolean {
  return NEGATIVE_NUMBER.test(arg);
}
