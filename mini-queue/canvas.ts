import { randomUUID } from 'node:crypto';
import {
  type ChainLink,
  createEnvelope,
  type EnqueueOptions,
  type Envelope,
  encodeEnvelope,
  MAX_CHAIN_LINKS,
} from './envelope.ts';
import { UserError } from './errors.ts';

/**
 * Canvas, Celery's word for tasks composed into a workflow, built from signatures (a task and its arguments, not
 * run yet):
 *
 *   group  [a, b, c]        run together; the handle gives the three results in order
 *   chain  a → b → c        each result becomes the next task's first argument
 *   chord  [a, b, c] → cb   cb([ra, rb, rc]) runs once, after every member succeeded
 *
 * This file builds the messages (no I/O). The worker side is coordination.ts, the handles canvas-handles.ts.
 */

/** Options a signature may carry: those of one task run. */
export interface SignatureOptions {
  /** How many retries after a failure. @default 0 */
  maxRetries?: number;
  /** Hard time limit per run, ms. */
  timeout?: number;
}

/** A task and its arguments, to be run as part of a group, chain or chord. */
export interface Signature {
  task: string;
  /** Positional arguments, JSON values. In a chain and a chord's callback, a result goes before them. @default [] */
  args?: unknown[];
  options?: SignatureOptions;
}

/** `sig('fib', 20)`: a signature from a task name and its arguments. */
export function sig(task: string, ...args: unknown[]): Signature {
  return { task, args };
}

const OPTION_NAMES = ['maxRetries', 'timeout'];

/** A signature as given, checked: one line naming what is wrong and where. */
function checked(value: unknown, where: string): Required<Pick<Signature, 'task' | 'args'>> & Signature {
  const s = value as Partial<Signature> | null;
  if (typeof s !== 'object' || s === null || Array.isArray(s) || typeof s.task !== 'string' || !s.task) {
    throw new UserError(
      `${where} must be a signature { task, args?, options? }, e.g. sig('fib', 20), got ${shown(value)}`,
    );
  }
  if (s.args !== undefined && !Array.isArray(s.args))
    throw new UserError(`${where} (${s.task}): args must be an array, got ${shown(s.args)}`);
  const extra = Object.keys(s.options ?? {}).filter((name) => !OPTION_NAMES.includes(name));
  if (extra.length > 0)
    throw new UserError(
      `${where} (${s.task}): a signature takes the options ${OPTION_NAMES.join(' and ')}, got ${extra.join(', ')}`,
    );
  return { ...s, task: s.task, args: s.args ?? [] };
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new UserError(`${what} takes an array of signatures, got ${shown(value)}`);
  return value;
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

function options(s: Signature, id: string): EnqueueOptions {
  return { ...s.options, id };
}

/** A group's messages: plain tasks, nothing to coordinate. */
export function buildGroup(signatures: unknown): Envelope[] {
  return list(signatures, 'group').map((value, i) => {
    const s = checked(value, `group member #${i}`);
    return createEnvelope(s.task, s.args, options(s, randomUUID()));
  });
}

/**
 * A chain's first message. Every link's id is fixed here, so the handle can follow the chain; each message carries
 * the links still to come, and the worker that runs it enqueues the next (coordination.ts).
 */
export function buildChain(signatures: unknown): { first: Envelope; ids: string[]; tasks: string[] } {
  const given = list(signatures, 'chain');
  if (given.length === 0) throw new UserError('a chain needs at least one signature');
  if (given.length > MAX_CHAIN_LINKS + 1)
    throw new UserError(`a chain takes at most ${MAX_CHAIN_LINKS + 1} signatures, got ${given.length}`);
  const links: ChainLink[] = given.map((value, i) => {
    const s = checked(value, `chain link #${i}`);
    return { id: randomUUID(), task: s.task, args: s.args, ...s.options };
  });
  const [head, ...rest] = links as [ChainLink, ...ChainLink[]];
  const first = linkEnvelope(head, head.args, rest);
  // The next links are refused here, where a person can fix them, not by the worker that would enqueue them.
  for (const [i, link] of rest.entries()) {
    try {
      createEnvelope(link.task, link.args, {
        id: link.id,
        maxRetries: link.maxRetries,
        timeout: link.timeout,
      });
    } catch (error) {
      throw new UserError(`chain link #${i + 1}: ${(error as Error).message}`);
    }
  }
  return { first, ids: links.map((link) => link.id), tasks: links.map((link) => link.task) };
}

/** The message of the link after `envelope`'s, with `result` as its first argument; undefined at the chain's end. */
export function nextLink(envelope: Envelope, result: unknown): Envelope | undefined {
  const [next, ...rest] = envelope.chain ?? [];
  if (!next) return undefined;
  return linkEnvelope(next, [result, ...next.args], rest);
}

function linkEnvelope(link: ChainLink, args: unknown[], rest: ChainLink[]): Envelope {
  const envelope = createEnvelope(link.task, args, {
    id: link.id,
    ...(link.maxRetries === undefined ? {} : { maxRetries: link.maxRetries }),
    ...(link.timeout === undefined ? {} : { timeout: link.timeout }),
  });
  if (rest.length > 0) envelope.chain = rest;
  return envelope;
}

/** A chord in Redis, as its hash holds it (KEYS[1] of chord-join-4.lua). */
export interface ChordRecord {
  n: number;
  /** The callback's message up to where its results go (`...,"args":[`) ... */
  head: string;
  /** ... and after them (`,1,2],"attempt":0,...}` or `],...}`). */
  tail: string;
  /** The callback's FAILURE record up to its error ... */
  failHead: string;
  /** ... and after it. */
  failTail: string;
}

/**
 * A chord: its members' messages, each marked with the chord's id and its index, and the chord's record, which
 * holds the callback's message cut where the results go. The worker whose join counts the last member splices
 * them in and enqueues it (chord-join-4.lua); the producer never enqueues the callback itself. The chord's id is
 * its callback's task id: the callback's result is the chord's.
 */
export function buildChord(
  members: unknown,
  callback: unknown,
): { id: string; members: Envelope[]; record: ChordRecord } {
  const given = list(members, 'chord');
  const body = checked(callback, 'the chord callback');
  const id = randomUUID();
  const envelopes = given.map((value, i) => {
    const s = checked(value, `chord member #${i}`);
    const envelope = createEnvelope(s.task, s.args, options(s, randomUUID()));
    envelope.chord = { id, index: i };
    return envelope;
  });
  // A stand-in for the results, unique to this chord, so no argument of the callback can be mistaken for it.
  const hole = `mq-chord-results-${randomUUID()}`;
  const message = encodeEnvelope(createEnvelope(body.task, [hole, ...body.args], options(body, id)));
  const [head, tail] = splitAt(message, JSON.stringify(hole));
  const failure = JSON.stringify({
    id,
    task: body.task,
    state: 'FAILURE',
    attempt: 0,
    enqueuedAt: Date.now(),
    error: hole,
  });
  const [failHead, failTail] = splitAt(failure, JSON.stringify(hole));
  return { id, members: envelopes, record: { n: envelopes.length, head, tail, failHead, failTail } };
}

function splitAt(text: string, token: string): [string, string] {
  const at = text.indexOf(token);
  return [text.slice(0, at), text.slice(at + token.length)];
}
