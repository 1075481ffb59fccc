import { UserError } from '../errors.ts';

/** Where mini-queue looks for Redis when REDIS_URL is not set (DESIGN.md). */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * The default address, overridable for the kit's own tests only (so they can simulate "nothing on 6379" without
 * stopping the machine's Redis).
 */
export function defaultRedisUrl(): string {
  return process.env.MINI_QUEUE_DEFAULT_REDIS_URL || DEFAULT_REDIS_URL;
}

/** Parses and checks a Redis URL; says what was received when it is not one. */
export function parseRedisUrl(url: string, source = 'REDIS_URL'): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError(
      `${source} must be a URL like redis://127.0.0.1:6379 or rediss://user:pass@host:6380, got '${url}'`,
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new UserError(`${source} must start with redis:// or rediss://, got '${redact(url)}'`);
  }
  return parsed;
}

/** The URL without its password, fit to print. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '<invalid url>';
  }
}

/** The one message for "no Redis anywhere": the address tried and the ways out. */
export function noRedisMessage(url: string): string {
  return (
    `No Redis answers at ${redact(url)} and redis-server is not on PATH. ` +
    'Start one with `docker run -p 6379:6379 redis:7`, or install it (`sudo apt install redis-server`, ' +
    '`brew install redis`), or set REDIS_URL=redis://host:port to use another.'
  );
}
