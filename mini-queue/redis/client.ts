import { Redis } from 'ioredis';
import { UserError } from '../errors.ts';
import { databaseOf, parseRedisAddress, redact } from './address.ts';
import { createCluster } from './cluster.ts';
import { resolveRedisUrl } from './resolve.ts';
import type { RedisWatch } from './watch.ts';

export interface ConnectOptions {
  /** Redis URL; default: REDIS_URL, the default address, or the embedded Redis. */
  url?: string;
  /** Connection name shown by `CLIENT LIST`. */
  name?: string;
  /** How long the first connection may take before we give up with a clear message. @default 3000 */
  connectTimeoutMs?: number;
  /**
   * Send the commands issued in one tick as one socket write. A worker with many tasks in flight issues acks and
   * state writes in bursts; one write per command makes the syscalls, not Redis, the bottleneck. Off for a
   * connection that blocks (BLMOVE), where there is never more than one command to batch. @default true
   */
  autoPipelining?: boolean;
  /**
   * For a producer. While the connection is down, a command fails at once, unsent, instead of waiting in
   * ioredis's offline queue, which has no bound in time or size: the caller tries it again within its own
   * deadline (redis/bounded.ts), and a command it gave up on cannot be sent later. A worker's connections keep
   * the queue: they ride out a Redis restart with their commands waiting. @default false
   */
  failFast?: boolean;
  /** Told when this connection goes down and comes back, and why (see RedisWatch). */
  watch?: RedisWatch;
}

/**
 * Something done to every connection connectRedis() opens in this process: counting, logging or delaying its
 * commands (a test may delay them at random to shake out races). It gets the client once connected, before
 * anyone else uses it, and the connection's name.
 */
export type ConnectionDecorator = (client: Redis, name: string | undefined) => void;

const decorators = new Set<ConnectionDecorator>();

/** Applies `decorator` to every connection opened from now on; returns the function that stops that. */
export function decorateConnections(decorator: ConnectionDecorator): () => void {
  decorators.add(decorator);
  return () => {
    decorators.delete(decorator);
  };
}

/**
 * A connected ioredis client. The first connection must succeed within `connectTimeoutMs` (else one clear
 * UserError); after that ioredis reconnects on its own. A worker's connection queues commands meanwhile
 * (`maxRetriesPerRequest: null`), so a worker rides out a dropped connection or a Redis restart; a producer's
 * (`failFast`) refuses them at once, so each call can keep its own deadline.
 */
export async function connectRedis(options: ConnectOptions = {}): Promise<Redis> {
  const url = options.url ?? (await resolveRedisUrl());
  const fromEnv = process.env.REDIS_URL === url;
  const source = fromEnv ? 'REDIS_URL' : 'the Redis URL';
  const address = parseRedisAddress(url, source);
  const db = address.cluster ? 0 : databaseOf(address.url, source);
  const connectTimeout = options.connectTimeoutMs ?? 3000;
  const start = { connected: false };
  const client = address.cluster
    ? createCluster(
        address,
        {
          name: options.name,
          connectTimeoutMs: connectTimeout,
          autoPipelining: options.autoPipelining ?? true,
          failFast: options.failFast ?? false,
        },
        start,
      )
    : new Redis(url, {
        lazyConnect: true,
        maxRetriesPerRequest: null,
        enableOfflineQueue: !options.failFast,
        connectTimeout,
        connectionName: options.name,
        enableAutoPipelining: options.autoPipelining ?? true,
        // No retries before the first success (a wrong address should fail at once, with our message); after
        // it, a reconnect backoff that stays short: a restarted Redis is back within a second or two.
        retryStrategy: (times) => (start.connected ? Math.min(50 * 2 ** times, 1000) : null),
      });
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    lastError = error;
  });
  // ioredis's connectTimeout ends at the TCP handshake: a server that accepts and never answers (a hung Redis,
  // a wrong port that is not Redis) would hold the first connection forever. This bounds all of it.
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    client.disconnect();
    // disconnect() lets a connected socket close politely, for up to 2 s; nobody answers on this one.
    client.stream?.destroy();
  }, connectTimeout);
  try {
    await client.connect();
    await client.ping();
    if (!address.cluster) await refuseClusterNode(client, address.url, source);
    // ioredis selects the URL's database as it connects and, when that fails, carries on in database 0 with
    // only an 'error' event: ask again, and stop on the answer.
    if (db !== 0)
      await client.select(db).catch((error: Error) => Promise.reject(noDatabase(db, source, error)));
    start.connected = true;
    for (const decorate of decorators) decorate(client, options.name);
  } catch (error) {
    // Already ended after a refused connect; disconnect() would arm a 2 s timer that holds the process open.
    if (client.status !== 'end') client.disconnect();
    if (error instanceof UserError) throw error;
    const failed = lastError ?? (error as Error);
    // A cluster that cannot be reached says only "Failed to refresh slots cache."; why is on its last node error.
    const cause = (failed as Error & { lastNodeError?: Error }).lastNodeError ?? failed;
    const reason = timedOut ? `no answer within ${connectTimeout} ms` : cause.message.replace(/\.+$/, '');
    if (address.cluster && /cluster support disabled/i.test(reason)) {
      throw new UserError(
        `The Redis at ${redact(url)}${fromEnv ? ' (REDIS_URL)' : ''} is not a cluster (cluster support disabled): name one node as redis://host:port`,
      );
    }
    throw new UserError(
      `Cannot reach Redis at ${redact(url)}${fromEnv ? ' (REDIS_URL)' : ''}: ${reason}. ` +
        'Is it running? Start one with `docker run -p 6379:6379 redis:7` or fix REDIS_URL.',
    );
  } finally {
    clearTimeout(timer);
  }
  options.watch?.add(client, url);
  return client;
}

/**
 * A cluster node reached as one Redis answers MOVED for every key it does not hold: a stack trace on enqueue,
 * EXECABORT on stats, a worker warning four times a second. Asked once at connect instead, and said in one line.
 */
async function refuseClusterNode(client: Redis, url: URL, source: string): Promise<void> {
  // An ACL user without INFO cannot be told apart here; its first MOVED will say the rest.
  const info = await client.info('cluster').catch(() => '');
  if (!/^cluster_enabled:1\b/m.test(info)) return;
  const user = url.username ? `${url.username}${url.password ? ':***' : ''}@` : url.password ? ':***@' : '';
  const scheme = url.protocol === 'rediss:' ? 'rediss+cluster' : 'redis+cluster';
  throw new UserError(
    `The Redis at ${redact(url.href)}${source === 'REDIS_URL' ? ' (REDIS_URL)' : ''} is a Redis Cluster node, which holds only some queues' slots (the others answer MOVED): use ${scheme}://${user}${url.host} (more nodes may follow, comma-separated)`,
  );
}

function noDatabase(db: number, source: string, error: Error): UserError {
  return new UserError(
    `${source} names database ${db}, which this Redis does not have (${error.message}): a Redis has databases 0 to 15 unless its \`databases\` setting says otherwise; fix the /${db} at the end`,
  );
}
