import { randomUUID } from 'node:crypto';
import { UserError } from './errors.ts';

/**
 * The message on the wire: JSON, one per task run. It names a registered task; it never names a file, a module or
 * code, so whoever can write to the queue can only ask for tasks the worker already knows.
 */
export interface Envelope {
  /** Unique task id (UUID); results are stored under it. */
  id: string;
  /** Name of a task registered with `defineTasks`. */
  task: string;
  /** Positional arguments, JSON values. */
  args: unknown[];
  /** 0 on the first run, +1 on each retry. */
  attempt: number;
  /** When the producer enqueued it (epoch ms). */
  enqueuedAt: number;
  /** Do not run before this time (epoch ms). */
  eta?: number;
  /** Hard time limit for one run (ms): an integer from 1 to MAX_TIMEOUT_MS. */
  timeout?: number;
  /** How many times a failed run is retried. @default 0 */
  maxRetries?: number;
  /** A chord's member: which chord (its callback's id) and which member (its place in the callback's results). */
  chord?: ChordMember;
  /** A chain's link, but the last: the links still to run after this one, in order (see canvas.ts). */
  chain?: ChainLink[];
  /** How many times it came back from a worker that died holding it. Set by the broker's recover(), always last. */
  redelivered?: number;
}

/** What a chord's member carries: the join (coordination.ts) counts it by `index`, once however often it runs. */
export interface ChordMember {
  /** The chord's id, which is its callback's task id. */
  id: string;
  /** 0 to n-1: where its result goes in the array the callback gets. */
  index: number;
}

/** A chain's link still to run: its id is fixed by the producer, so the chain's handle can follow it. */
export interface ChainLink {
  id: string;
  task: string;
  /** Its own arguments: the result of the link before it goes first. */
  args: unknown[];
  maxRetries?: number;
  timeout?: number;
}

/** Most links one chain may have: each link's message carries the rest of the chain. */
export const MAX_CHAIN_LINKS = 1000;

export interface EnqueueOptions {
  /** How many retries after a failure (with exponential backoff and jitter). @default 0 */
  maxRetries?: number;
  /** Hard time limit per run, in ms: an integer from 1 to MAX_TIMEOUT_MS (about 24.8 days). */
  timeout?: number;
  /** Run no earlier than this time (a Date or epoch ms). */
  eta?: Date | number;
  /** Run no earlier than this many ms from now. */
  countdown?: number;
  /** The task id; default a random UUID. */
  id?: string;
}

/** The largest envelope a producer may enqueue: big payloads belong in object storage, not in the queue. */
export const MAX_ENVELOPE_BYTES = 512 * 1024;

/**
 * The longest task `timeout`, ms: the longest delay Node's timers take (2^31 - 1, about 24.8 days). A longer one
 * is not rejected by setTimeout: it warns (TimeoutOverflowWarning) and fires after 1 ms, which would fail every
 * run at once. So it is refused where it enters: by the producer (createEnvelope) and, for a message from a
 * producer that does not check, by the worker, which buries it with the reason (decodeEnvelope) rather than
 * clamp it: a limit nobody meant is not one to enforce silently.
 */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export function createEnvelope(task: string, args: unknown[], options: EnqueueOptions = {}): Envelope {
  if (typeof task !== 'string' || task.length === 0) {
    throw new UserError(`The task name must be a non-empty string, got ${JSON.stringify(task)}`);
  }
  if (!Array.isArray(args)) {
    throw new UserError(`Task arguments must be a JSON array like [30], got ${JSON.stringify(args)}`);
  }
  const envelope: Envelope = {
    id: options.id ?? randomUUID(),
    task,
    args,
    attempt: 0,
    enqueuedAt: Date.now(),
  };
  const eta =
    options.eta !== undefined
      ? Number(options.eta)
      : options.countdown !== undefined
        ? envelope.enqueuedAt + options.countdown
        : undefined;
  if (eta !== undefined) envelope.eta = eta;
  if (options.timeout !== undefined) envelope.timeout = options.timeout;
  if (options.maxRetries !== undefined) envelope.maxRetries = options.maxRetries;
  const problem = problemWith(envelope);
  if (problem) throw new UserError(`Cannot enqueue '${task}': ${problem}`);
  return envelope;
}

/** Serialises an envelope, refusing what could not be read back or is too big to belong in a queue. */
export function encodeEnvelope(envelope: Envelope): string {
  let raw: string;
  try {
    raw = JSON.stringify(envelope);
  } catch (error) {
    throw new UserError(
      `Cannot enqueue '${envelope.task}': its arguments are not JSON (${(error as Error).message})`,
    );
  }
  const bytes = Buffer.byteLength(raw);
  if (bytes > MAX_ENVELOPE_BYTES) {
    throw new UserError(
      `Cannot enqueue '${envelope.task}': the message is ${bytes} bytes, over the ${MAX_ENVELOPE_BYTES}-byte limit. ` +
        'Store big payloads elsewhere (a file, a blob store) and pass a reference.',
    );
  }
  return raw;
}

export type Decoded = { ok: true; envelope: Envelope } | { ok: false; reason: string };

/** Validates a message read from Redis. Never throws: a bad message becomes a reason for the dead-letter list. */
export function decodeEnvelope(raw: string): Decoded {
  // What the producer refuses, the worker refuses too (a hand-pushed message): it would be buried anyway by a
  // worker that cannot afford it. A UTF-16 unit is at most 3 bytes, so short strings skip the count.
  if (raw.length * 3 > MAX_ENVELOPE_BYTES) {
    const bytes = Buffer.byteLength(raw);
    if (bytes > MAX_ENVELOPE_BYTES) {
      return { ok: false, reason: `too big: ${bytes} bytes, over the ${MAX_ENVELOPE_BYTES}-byte limit` };
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, reason: 'not valid JSON' };
  }
  const problem = problemWith(value);
  return problem
    ? { ok: false, reason: `not a valid envelope: ${problem}` }
    : { ok: true, envelope: value as Envelope };
}

function isTime(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** A value from a message, short enough for a reason. */
function shown(value: unknown): string {
  const text = typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function problemWith(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'expected a JSON object';
  const e = value as Record<string, unknown>;
  if (typeof e.id !== 'string' || e.id.length === 0 || e.id.length > 200)
    return '`id` must be a non-empty string';
  if (typeof e.task !== 'string' || e.task.length === 0) return '`task` must be a non-empty string';
  if (!Array.isArray(e.args)) return '`args` must be an array';
  if (!Number.isInteger(e.attempt) || (e.attempt as number) < 0) return '`attempt` must be an integer >= 0';
  if (!isTime(e.enqueuedAt)) return '`enqueuedAt` must be a time in ms';
  if (e.eta !== undefined && !isTime(e.eta)) return '`eta` must be a time in ms';
  if (e.timeout !== undefined && !(Number.isInteger(e.timeout) && (e.timeout as number) >= 1)) {
    return `\`timeout\` must be an integer number of ms >= 1, got ${shown(e.timeout)}`;
  }
  if ((e.timeout as number) > MAX_TIMEOUT_MS) {
    return `\`timeout\` must be at most ${MAX_TIMEOUT_MS} ms (about 24.8 days, the longest timer Node has), got ${shown(e.timeout)}`;
  }
  if (e.maxRetries !== undefined && !(Number.isInteger(e.maxRetries) && (e.maxRetries as number) >= 0)) {
    return '`maxRetries` must be an integer >= 0';
  }
  if (e.redelivered !== undefined && !(Number.isInteger(e.redelivered) && (e.redelivered as number) >= 0)) {
    return '`redelivered` must be an integer >= 0';
  }
  if (e.chord !== undefined) {
    const c = e.chord as Record<string, unknown> | null;
    if (
      typeof c !== 'object' ||
      c === null ||
      !isId(c.id) ||
      !(Number.isInteger(c.index) && (c.index as number) >= 0)
    )
      return '`chord` must be { id: a non-empty string, index: an integer >= 0 }';
  }
  if (e.chain !== undefined) {
    if (!Array.isArray(e.chain) || e.chain.length === 0 || e.chain.length > MAX_CHAIN_LINKS)
      return `\`chain\` must be an array of 1 to ${MAX_CHAIN_LINKS} links`;
    for (const [i, link] of e.chain.entries()) {
      const problem = linkProblem(link);
      if (problem) return `\`chain[${i}]\`: ${problem}`;
    }
  }
  return undefined;
}

function isId(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0 && value.length <= 200;
}

/** A chain's link is checked like the envelope it will become (the next one is built by a worker). */
function linkProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'expected a JSON object';
  const l = value as Record<string, unknown>;
  if (!isId(l.id)) return '`id` must be a non-empty string';
  return problemWith({ ...l, attempt: 0, enqueuedAt: 0 });
}
