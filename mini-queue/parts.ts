import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AmqpBrokerParts } from './amqp/broker-base.ts';
import type { Broker, BrokerOptions } from './broker.ts';
import type { BrokerConnections } from './broker-base.ts';
import { UserError } from './errors.ts';
import { validateQueueName } from './keys.ts';
import type { CreatePool, PoolKind } from './pool.ts';
import { checkProcesses, createMultiProcessPool } from './pools/multi-process.ts';
import { createSoloPool } from './pools/solo.ts';
import type { RedisWatch } from './redis/watch.ts';

/**
 * Where the lab-built parts come from: a *track*, a folder at the repo root that holds lab folders
 * (`<track>/03-threads/pool.ts`). `solutions` is the reference (what mini-queue runs by default); `labs` is the
 * attendee's own files. A lab's demo and check take only that lab's part from `labs`, so an unfinished lab 00
 * never breaks lab 03. Tools may lay out other folders the same way and pass their names (see trackFolder).
 */
export const TRACKS = ['labs', 'solutions'] as const;
export type Track = (typeof TRACKS)[number] | (string & {});

/** A track a person typed (`--track`): only `labs` or `solutions`. */
export function parseTrack(value: string): Track {
  if ((TRACKS as readonly string[]).includes(value)) return value;
  throw new UserError(`--track must be 'labs' or 'solutions', got '${value}'`);
}

/** A track given by a program: any folder name at the repo root (lower case, digits, '-', one leading '.'). */
export function trackFolder(value: string): Track {
  if (/^\.?[a-z0-9-]+$/.test(value)) return value;
  throw new UserError(
    `a track is the name of a folder at the repo root (a-z, 0-9, '-', optionally one leading '.'), got '${value}'`,
  );
}

/** Which lab builds which part. Lab names are part of the contract. */
export const PART_LABS = {
  broker: '00-broker',
  'event-loop': '01-event-loop',
  coroutines: '02-coroutines',
  threads: '03-threads',
  processes: '04-processes',
  prefork: '05-prefork',
  coordination: '07-coordination',
  transport: '08-transport',
} as const;

const ROOT = new URL('../', import.meta.url);

/** The file of a lab-built part in a track, e.g. `solutions/03-threads/pool.ts`. */
export function partFile(track: Track, lab: string, file: string): URL {
  return new URL(`${trackFolder(track)}/${lab}/${file}`, ROOT);
}

/** How long results (and what canvas keeps beside them) are kept, s: a day, Celery's result_expires. */
export const DEFAULT_RESULT_TTL_SECONDS = 86_400;
/**
 * The Lua scripts a lab writes, in a track: e.g. `solutions/07-coordination/lua/` (lab 07: beat's once-per-tick
 * guard, the rate limiter). One line when the track has no such folder.
 */
export function labLua(track: Track, lab: string): URL {
  const folder = partFile(track, lab, 'lua/');
  if (!existsSync(fileURLToPath(folder))) {
    throw new UserError(`This kit has no ${trackFolder(track)}/${lab}/lua/ (the Lua scripts of lab ${lab}).`);
  }
  return folder;
}

type BrokerClass = new (connections: BrokerConnections) => Broker;

/** How a broker's connections behave when Redis goes away (see ConnectOptions). */
export interface BrokerConnectionOptions {
  /** A producer's connections: commands fail at once while the connection is down, instead of queueing. */
  failFast?: boolean;
  /** Told when a connection goes down and comes back. */
  watch?: RedisWatch;
}

/**
 * Connects a broker built in `track`: on Redis, lab 00's (two connections, one of them only for the blocking
 * BLMOVE); with BROKER_URL=amqp://… (or BROKER=rabbitmq, `--transport rabbitmq`), lab 08's on RabbitMQ, with
 * its results in Redis (mini-queue/amqp/address.ts says how the transport is chosen).
 */
export async function openBroker(
  options: BrokerOptions = {},
  track: Track = 'solutions',
  connection: BrokerConnectionOptions = {},
): Promise<Broker> {
  const { chosenTransport } = await import('./amqp/address.ts');
  if (chosenTransport() === 'rabbitmq') return openAmqpBroker(options, track, connection);
  const file = partFile(track, PART_LABS.broker, 'broker.ts');
  const { RedisBroker } = (await import(file.href)) as { RedisBroker: BrokerClass };
  // Imported here, not at the top: a pool's child process imports this module for poolFactory() alone, and
  // ioredis is most of its start-up.
  const { connectRedis } = await import('./redis/client.ts');
  const queue = validateQueueName(options.queue ?? 'default');
  const redis = await connectRedis({ url: options.url, name: `mq:${queue}`, ...connection });
  const blocking = await connectRedis({
    url: options.url,
    name: `mq:${queue}:blocking`,
    autoPipelining: false,
    ...connection,
  }).catch((error: unknown) => {
    redis.disconnect();
    throw error;
  });
  return new RedisBroker({
    queue,
    redis,
    blocking,
    visibilityMs: positive(options.visibilityMs ?? 30_000, 'visibilityMs'),
    resultTtlSeconds: positive(options.resultTtlSeconds ?? DEFAULT_RESULT_TTL_SECONDS, 'resultTtlSeconds'),
  });
}

export type AmqpBrokerClass = new (parts: AmqpBrokerParts) => Broker;

/** Lab 08's broker class (`AmqpBroker` in `<track>/08-transport/broker.ts`), or one line when the track has none. */
export async function amqpBrokerClass(track: Track = 'solutions'): Promise<AmqpBrokerClass> {
  const file = partFile(track, PART_LABS.transport, 'broker.ts');
  if (!existsSync(fileURLToPath(file))) {
    throw new UserError(
      `The RabbitMQ transport is not in this kit yet (no ${trackFolder(track)}/${PART_LABS.transport}/broker.ts): unset BROKER_URL to use Redis.`,
    );
  }
  const { AmqpBroker } = (await import(file.href)) as { AmqpBroker?: AmqpBrokerClass };
  if (typeof AmqpBroker !== 'function') {
    throw new UserError(
      `${trackFolder(track)}/${PART_LABS.transport}/broker.ts must export class AmqpBroker`,
    );
  }
  return AmqpBroker;
}

/** Lab 08's broker on RabbitMQ: an AMQP connection (mini-queue/amqp/link.ts), and Redis for results. */
async function openAmqpBroker(
  options: BrokerOptions,
  track: Track,
  connection: BrokerConnectionOptions,
): Promise<Broker> {
  const AmqpBroker = await amqpBrokerClass(track);
  const { resolveAmqpUrl } = await import('./amqp/address.ts');
  const { AmqpLink } = await import('./amqp/link.ts');
  const { connectRedis } = await import('./redis/client.ts');
  const queue = validateQueueName(options.queue ?? 'default');
  const url = await resolveAmqpUrl();
  const redis = await connectRedis({ url: options.url, name: `mq:${queue}:results`, ...connection });
  const link = new AmqpLink(url, `mini-queue ${queue} (pid ${process.pid})`, (message) =>
    console.error(`mini-queue: ${message}`),
  );
  try {
    await link.connect();
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  return new AmqpBroker({
    queue,
    link,
    redis,
    resultTtlSeconds: positive(options.resultTtlSeconds ?? DEFAULT_RESULT_TTL_SECONDS, 'resultTtlSeconds'),
    ...(options.prefetch === undefined ? {} : { prefetch: positive(options.prefetch, 'prefetch') }),
  });
}

/** The pool factory for a kind: `solo` is the chassis's own; the others are built in labs 01 to 05. */
export async function poolFactory(kind: PoolKind, track: Track = 'solutions'): Promise<CreatePool> {
  if (kind === 'solo') return createSoloPool;
  const file = partFile(track, PART_LABS[kind], 'pool.ts');
  if (!existsSync(fileURLToPath(file))) {
    throw new UserError(
      `The '${kind}' pool is not in this kit yet (no ${track}/${PART_LABS[kind]}/pool.ts).`,
    );
  }
  const module = (await import(file.href)) as { createPool?: CreatePool };
  if (typeof module.createPool !== 'function') {
    throw new UserError(`${track}/${PART_LABS[kind]}/pool.ts must export createPool(options)`);
  }
  return module.createPool;
}

/**
 * The pool factory of a worker: poolFactory's, or with `processes`, that pool (event-loop or coroutines) run in
 * each of N child processes, C split between them (mini-queue/pools/multi-process.ts).
 */
export async function workerPoolFactory(
  kind: PoolKind,
  track: Track = 'solutions',
  processes?: number,
): Promise<CreatePool> {
  if (processes === undefined) return poolFactory(kind, track);
  // Here, before a broker connects or a child is forked: the kind and the count (the pool checks C against it).
  const inner = checkProcesses(kind, processes, processes);
  // The children load it: a track without it fails here, in the same words as in-process.
  await poolFactory(inner, track);
  return (options) => createMultiProcessPool({ ...options, kind: inner, processes, track });
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new UserError(`${name} must be a number > 0, got ${value}`);
  return value;
}
