import { Redis } from 'ioredis';
import { UserError } from '../errors.ts';
import { redact } from './address.ts';
import { resolveRedisUrl } from './resolve.ts';

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
 * A connected ioredis client. The first connection must succeed (else one clear UserError); after that ioredis
 * reconnects on its own and queues commands meanwhile (`maxRetriesPerRequest: null`), so a worker rides out a
 * dropped connection or a Redis restart.
 */
export async function connectRedis(options: ConnectOptions = {}): Promise<Redis> {
  const url = options.url ?? (await resolveRedisUrl());
  let connected = false;
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    connectTimeout: options.connectTimeoutMs ?? 3000,
    connectionName: options.name,
    enableAutoPipelining: options.autoPipelining ?? true,
    // No retries before the first success (a wrong address should fail at once, with our message); after it, a
    // reconnect backoff that stays short: a restarted Redis is back within a second or two.
    retryStrategy: (times) => (connected ? Math.min(50 * 2 ** times, 1000) : null),
  });
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    lastError = error;
  });
  try {
    await client.connect();
    await client.ping();
    connected = true;
    for (const decorate of decorators) decorate(client, options.name);
  } catch (error) {
    // Already ended after a refused connect; disconnect() would arm a 2 s timer that holds the process open.
    if (client.status !== 'end') client.disconnect();
    const reason = (lastError ?? (error as Error)).message;
    throw new UserError(
      `Cannot reach Redis at ${redact(url)}${process.env.REDIS_URL === url ? ' (REDIS_URL)' : ''}: ${reason}. ` +
        'Is it running? Start one with `docker run -p 6379:6379 redis:7` or fix REDIS_URL.',
    );
  }
  return client;
}
