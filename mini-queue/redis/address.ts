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

/**
 * Parses and checks a Redis URL; says what was received when it is not one, without its password: a URL that
 * does not parse is shown with everything before its last `@` masked, one that parses through redact().
 */
export function parseRedisUrl(url: string, source = 'REDIS_URL'): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError(
      `${source} must be a URL like redis://127.0.0.1:6379 or rediss://user:pass@host:6380/0, got '${masked(url)}'${whyNot(url)}`,
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new UserError(`${source} must start with redis:// or rediss://, got '${redact(url)}'`);
  }
  if (!parsed.hostname) throw new UserError(`${source} names no host, got '${redact(url)}'`);
  databaseOf(parsed, source);
  return parsed;
}

/**
 * The database a Redis URL names (`/3`), 0 when none. ioredis reads anything else as 0 without a word, so a
 * path that is not a number is refused here; whether that database exists, only the server can say (connectRedis
 * asks it).
 */
export function databaseOf(url: URL, source = 'REDIS_URL'): number {
  const path = url.pathname.replace(/^\//, '');
  if (path === '') return 0;
  if (!/^\d{1,9}$/.test(path)) {
    throw new UserError(
      `${source} ends with '/${path}': after the host comes a database number like /0, or nothing (got '${redact(url.href)}')`,
    );
  }
  return Number(path);
}

/** A string that is not a URL, fit to print: everything before its last `@`, where a password would be, masked. */
function masked(text: string): string {
  const at = text.lastIndexOf('@');
  if (at < 0) return text;
  const scheme = /^[a-z][a-z0-9+.-]*:\/*/i.exec(text)?.[0] ?? '';
  return `${scheme}***${text.slice(at)}`;
}

/** What is most likely wrong with a string `new URL()` refused, for the end of the message. */
function whyNot(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return ' (it must start with redis:// or rediss://)';
  const host = text.slice(text.lastIndexOf('@') + 1);
  if (/\s/.test(host)) return ' (a space in the host)';
  const port = /^[^/]*:([^/]*)/.exec(host)?.[1];
  if (port !== undefined && !(/^\d+$/.test(port) && Number(port) <= 65535)) {
    return ` (the port must be a number from 1 to 65535)`;
  }
  return '';
}

/** The URL without its password, fit to print. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    // `redis:/:pw@host` parses, as a path with no host: only a URL with a host has its password where we look.
    if (!parsed.hostname) return masked(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return masked(url);
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
