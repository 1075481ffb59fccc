import type { QueueKeys } from './keys.ts';

/**
 * The broker contract: a reliable queue on Redis (lab 00 builds it). Read this first.
 *
 *   producer ─LPUSH─▶ [ waiting ] ─BLMOVE─▶ [ active ] ──ack──▶ result + counter
 *                         ▲                    │ lease (ZSET: deadline)
 *                         └──── recover ◀──────┘ lease ran out: the worker died
 *
 * A message leaves `active` only by its ack (or retry/bury): delivery is at least once.
 */
export interface Broker {
  readonly keys: QueueKeys;
  /** Adds encoded envelopes to the waiting list (left side). */
  push(raws: string[]): Promise<void>;
  /** Holds an envelope in the delayed set until `dueAt` (eta, countdown). */
  schedule(raw: string, dueAt: number): Promise<void>;
  /**
   * Moves up to `max` messages from waiting to active, each with a lease, waiting up to `blockMs` for the
   * first. Returns [] when nothing came.
   */
  reserve(max: number, blockMs: number): Promise<string[]>;
  /** Settles a held message: stores its result and counts it. False when it was no longer held (a late ack). */
  ack(raw: string, record: ResultRecord): Promise<boolean>;
  /** Settles a failed run that will be tried again: the next envelope waits in the delayed set until `dueAt`. */
  retry(raw: string, nextRaw: string, dueAt: number, record: ResultRecord): Promise<boolean>;
  /** Moves a message that cannot be handled at all to the dead-letter list, with the reason. */
  bury(raw: string, reason: string): Promise<void>;
  /** Gives back to waiting every in-flight message whose lease ran out. Returns how many. */
  recover(): Promise<number>;
  /** Gives held messages back to waiting now, unrun (cold shutdown). Returns how many were still held. */
  release(raws: string[]): Promise<number>;
  /** Moves due messages from the delayed set to waiting. Returns how many. */
  promote(): Promise<number>;
  /** Pushes the leases of messages this worker still runs into the future. */
  extendLeases(raws: string[]): Promise<void>;
  /** Records that a task started (state STARTED). */
  started(record: ResultRecord): Promise<void>;
  result(id: string): Promise<ResultRecord | undefined>;
  stats(): Promise<QueueStats>;
  close(): Promise<void>;
}

export const TASK_STATES = ['PENDING', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE'] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** What is stored under `mq:{queue}:result:<id>` (and expires). */
export interface ResultRecord {
  id: string;
  task: string;
  state: TaskState;
  attempt: number;
  enqueuedAt: number;
  /** The return value, on SUCCESS. */
  result?: unknown;
  /** What went wrong, on FAILURE and RETRY. */
  error?: { name: string; message: string };
  lane?: string;
  startedAt?: number;
  finishedAt?: number;
}

/** `npx tsx mini-queue stats` prints exactly this. */
export interface QueueStats {
  waiting: number;
  active: number;
  delayed: number;
  succeeded: number;
  failed: number;
  dead: number;
}

export interface BrokerOptions {
  /** Queue name. @default 'default' */
  queue?: string;
  /** How long a reserved message stays with a worker that stops renewing its lease, ms. @default 30_000 */
  visibilityMs?: number;
  /** How long results are kept, seconds. @default 86_400 (Celery's result_expires) */
  resultTtlSeconds?: number;
  /** Redis URL. @default REDIS_URL, the default address, or a private embedded Redis */
  url?: string;
  /**
   * RabbitMQ transport only (BROKER_URL=amqp://…): the most unacked messages RabbitMQ sends one worker
   * (basic.qos). @default the worker's concurrency x prefetchMultiplier
   */
  prefetch?: number;
}
