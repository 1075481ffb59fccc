import { Cluster, type Redis } from 'ioredis';
import type { ClusterAddress } from './address.ts';

export interface ClusterConnectOptions {
  name?: string;
  connectTimeoutMs: number;
  autoPipelining: boolean;
  failFast: boolean;
}

/**
 * Told the cluster has been reached once: from then on it reconnects (a refused first connection should fail at
 * once, with our message, as a single Redis does).
 */
export interface ClusterStart {
  connected: boolean;
}

/**
 * An ioredis Cluster for `address`, not connected yet. It routes every command by its key's slot and follows
 * MOVED/ASK, so a queue works whichever master holds it: every key of a queue shares one hash tag
 * (`mq:{queue}:…`), hence one slot, so its Lua scripts (EVALSHA, EVAL on NOSCRIPT, both routed by their first key),
 * MULTI and pipelines stay on one node. Reads go to masters (`scaleReads: 'master'`): a replica lags, and a
 * worker must never see a message it already acked.
 *
 * During a failover the dead master's commands fail with "Connection is closed" or CLUSTERDOWN; ioredis retries
 * them every `retryDelayOnFailover` with fresh slots, at most `maxRedirections` times: 100 × 200 ms covers a
 * failover of a few seconds (cluster-node-timeout plus the election) with room to spare.
 *
 * Typed as Redis: Cluster has the same command API (ioredis's Commander), which is all the broker and lab 00
 * use, so a learner's broker runs on a cluster unchanged.
 */
export function createCluster(
  address: ClusterAddress,
  options: ClusterConnectOptions,
  start: ClusterStart,
): Redis {
  const cluster = new Cluster(address.nodes, {
    lazyConnect: true,
    scaleReads: 'master',
    enableOfflineQueue: !options.failFast,
    enableAutoPipelining: options.autoPipelining,
    maxRedirections: 100,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
    slotsRefreshTimeout: Math.max(1000, options.connectTimeoutMs / 2),
    clusterRetryStrategy: (times) => (start.connected ? Math.min(100 * times, 1000) : null),
    redisOptions: {
      connectTimeout: options.connectTimeoutMs,
      connectionName: options.name,
      ...(address.username ? { username: address.username } : {}),
      ...(address.password ? { password: address.password } : {}),
      ...(address.tls ? { tls: {} } : {}),
    },
  });
  return cluster as unknown as Redis;
}

/** Whether a client is a Cluster (whose SCAN, INFO, … reach one node only). */
export function isCluster(client: Redis): boolean {
  return (client as unknown as { isCluster?: boolean }).isCluster === true;
}

/** The clients to send a node-wide command to (SCAN): each master of a cluster, or the one client. */
export function eachMaster(client: Redis): Redis[] {
  return isCluster(client) ? (client as unknown as Cluster).nodes('master') : [client];
}
