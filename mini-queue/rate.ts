import { UserError } from './errors.ts';

/** A rate limit as written: `'10/s'`, `'100/m'`, `'1000/h'`, or a number (per second), as Celery takes them. */
export type RateLimit = string | number;

const PER: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

/**
 * The gap between two starts a rate allows, in ms (may be fractional: `'3/s'` is 333.33 ms). Starts are spaced
 * evenly, with no burst: Celery's token bucket holds one token, and so does ours.
 */
export function rateInterval(rate: RateLimit): number {
  const match = typeof rate === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|m|h)\s*$/.exec(rate) : null;
  const [count, per] =
    typeof rate === 'number' ? [rate, 1000] : match ? [Number(match[1]), PER[match[2]!]!] : [Number.NaN, 0];
  if (!(count > 0) || !Number.isFinite(count)) {
    const got = typeof rate === 'string' ? `'${rate}'` : String(rate);
    throw new UserError(`a rate limit is like '10/s', '100/m' or '1000/h' (more than 0), got ${got}`);
  }
  return per / count;
}
