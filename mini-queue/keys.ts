import { UserError } from './errors.ts';

/**
 * Every key of a queue lives under `mq:{queue}:`. The braces are a Redis Cluster hash tag: all of a queue's keys
 * hash to one slot, so the Lua scripts that touch several of them stay legal on a cluster.
 */
export interface QueueKeys {
  /** List of JSON envelopes: producers LPUSH, workers take from the right. */
  readonly waiting: string;
  /** List of envelopes reserved by a worker and not yet acknowledged (the in-flight set). */
  readonly active: string;
  /** Sorted set: in-flight envelope -> lease deadline (ms). Expired leases go back to `waiting`. */
  readonly leases: string;
  /** Sorted set: envelope -> due time (ms) for eta/countdown and retry backoff. */
  readonly delayed: string;
  /**
   * List of dead letters: `{ reason, raw, at }` for messages that could not be handled at all, plus `rawBase64`
   * (the exact bytes) for one that was not UTF-8, whose `raw` shows U+FFFD for the bytes it could not read.
   */
  readonly dead: string;
  /** Hash of counters: succeeded, failed, retried. */
  readonly stats: string;
  /** Prefix of the per-task result keys. */
  readonly resultPrefix: string;
  /** The result key for one task id. */
  result(id: string): string;
  /** Hash of a chord (by its id): member count, its callback's message in two halves, and how it ended. */
  chord(id: string): string;
  /** Hash of a chord's results so far: member index -> its result (JSON). One field per member that succeeded. */
  chordResults(id: string): string;
  /** Set once the task with this id has been enqueued by a worker (a chain's next link): enqueued once only. */
  queued(id: string): string;
  /** A pattern matching every key of this queue (for SCAN-based clean-up). */
  readonly pattern: string;
}

const QUEUE_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;

export function validateQueueName(name: string): string {
  if (!QUEUE_NAME.test(name)) {
    throw new UserError(
      `Queue names use letters, digits and _ . : - (1 to 100 characters), got '${name}'. Try --queue default.`,
    );
  }
  return name;
}

export function queueKeys(name: string): QueueKeys {
  const prefix = `mq:{${validateQueueName(name)}}:`;
  return {
    waiting: `${prefix}waiting`,
    active: `${prefix}active`,
    leases: `${prefix}leases`,
    delayed: `${prefix}delayed`,
    dead: `${prefix}dead`,
    stats: `${prefix}stats`,
    resultPrefix: `${prefix}result:`,
    result: (id) => `${prefix}result:${id}`,
    chord: (id) => `${prefix}chord:${id}`,
    chordResults: (id) => `${prefix}chord:${id}:results`,
    queued: (id) => `${prefix}queued:${id}`,
    pattern: `${prefix}*`,
  };
}

/**
 * A key of one queue beyond those QueueKeys names, under the same prefix (and so in the same cluster slot), e.g.
 * `queueKey('default', 'beat', 'report', 1700000000000)` is `mq:{default}:beat:report:1700000000000`.
 */
export function queueKey(queue: string, ...parts: Array<string | number>): string {
  return `mq:{${validateQueueName(queue)}}:${parts.join(':')}`;
}
