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
  if (isClusterUrl(url)) {
    throw new UserError(
      `${source} names a Redis Cluster ('${redact(url)}'); this needs one Redis: give it redis://host:port of one node`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError(
      `${source} must be a URL like redis://127.0.0.1:6379 or rediss://user:pass@host:6380/0, got '${masked(url)}'${whyNot(url)}`,
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new UserError(
      `${source} must start with redis:// or rediss:// (redis+cluster:// for a cluster), got '${redact(url)}'`,
    );
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

/** Where a cluster is: the nodes to start from (any of them will do; ioredis learns the rest) and how to log in. */
export interface ClusterAddress {
  nodes: Array<{ host: string; port: number }>;
  username?: string;
  password?: string;
  /** `rediss+cluster://`: every node is reached over TLS. */
  tls: boolean;
}

/** Where Redis is: one server (a URL as parseRedisUrl checks it), or a cluster. */
export type RedisAddress = { cluster: false; url: URL } | ({ cluster: true } & ClusterAddress);

const CLUSTER_SCHEME = /^(rediss?)\+cluster:\/\//i;

/** Whether a Redis URL names a cluster (`redis+cluster://` or `rediss+cluster://`). */
export function isClusterUrl(url: string): boolean {
  return CLUSTER_SCHEME.test(url);
}

/**
 * Parses any Redis URL mini-queue takes: `redis://` and `rediss://` for one server, and for a Redis Cluster
 * `redis+cluster://[user:password@]host1:port1,host2:port2[,...]` (`rediss+cluster://` with TLS): a
 * comma-separated list of seed nodes, one is enough. A cluster has only database 0, so a `/db` other than `/0` is
 * refused rather than ignored.
 */
export function parseRedisAddress(url: string, source = 'REDIS_URL'): RedisAddress {
  const scheme = CLUSTER_SCHEME.exec(url);
  if (!scheme) return { cluster: false, url: parseRedisUrl(url, source) };
  const example = 'redis+cluster://host1:7000,host2:7001 (or rediss+cluster:// with TLS)';
  const rest = url.slice(scheme[0].length);
  const at = rest.lastIndexOf('@');
  const userinfo = at < 0 ? '' : rest.slice(0, at);
  const [hostList = '', ...path] = rest.slice(at + 1).split('/');
  const db = path.join('/');
  if (db !== '' && db !== '0') {
    throw new UserError(
      `${source} ends with '/${db}': a Redis Cluster has only database 0, so a cluster URL ends with the nodes or /0 (got '${redact(url)}')`,
    );
  }
  const nodes = hostList.split(',').map((node) => {
    const match = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/.exec(node.trim());
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) {
      throw new UserError(
        `${source} must list the cluster's nodes as host:port separated by commas, like ${example}; '${node}' is not host:port (got '${redact(url)}')`,
      );
    }
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  });
  const colon = userinfo.indexOf(':');
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      throw new UserError(`${source} has a user or password that is not URL-encoded (got '${redact(url)}')`);
    }
  };
  const username = decode(colon < 0 ? userinfo : userinfo.slice(0, colon));
  const password = colon < 0 ? '' : decode(userinfo.slice(colon + 1));
  return {
    cluster: true,
    nodes,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    tls: scheme[1]!.toLowerCase() === 'rediss',
  };
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
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text))
    return ' (it must start with redis://, rediss://, or redis+cluster:// for a cluster)';
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
  // A cluster URL is no WHATWG URL (a list of hosts): keep the user, mask only what follows its colon.
  if (isClusterUrl(url)) return url.replace(/^([^/]*\/\/[^:@/]*):.*@/, '$1:***@');
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
