import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Cron, nextCronTime, parseCron } from './cron.ts';
import { createEnvelope, type EnqueueOptions, encodeEnvelope } from './envelope.ts';
import { errorMessage, UserError } from './errors.ts';

/**
 * A beat's schedule: which task to enqueue, with which arguments, when. What a schedule file exports:
 *
 *   export default defineSchedule([
 *     { name: 'heartbeat', task: 'noop', every: '5s' },
 *     { name: 'report', task: 'sendEmail', args: ['ops@example.com', 'daily'], cron: '0 7 * * mon-fri' },
 *   ]);
 *
 * or the same array as JSON. Ticks are aligned to the clock, not to when a beat started: tick k of `every: E` is
 * at k * E ms since the epoch, a cron tick at the minute it names (UTC). So every beat running the same file
 * computes the same ticks, and a tick's time is its id: the key that lets only one beat enqueue it.
 */
export interface ScheduleEntry {
  /** Unique in the schedule: letters, digits and _ . : - (1 to 100). It names the ticks in Redis and the ids. */
  name: string;
  /** The task to enqueue (a name the workers' tasks module defines). */
  task: string;
  /** Its arguments. @default [] */
  args?: unknown[];
  /** An interval: `'100ms'`, `'5s'`, `'2m'`, `'1h'`, `'1d'`, or a number of ms. Exactly one of every and cron. */
  every?: string | number;
  /** Five cron fields, `m h dom mon dow`, in UTC (see cron.ts). Exactly one of every and cron. */
  cron?: string;
  /** Passed on with each message. */
  options?: Pick<EnqueueOptions, 'maxRetries' | 'timeout'>;
}

/** Types a schedule written in TypeScript; checks nothing (the beat does, naming the entry). */
export function defineSchedule(entries: ScheduleEntry[]): ScheduleEntry[] {
  return entries;
}

/** A checked entry, with its tick function. */
export interface Schedule {
  readonly name: string;
  readonly task: string;
  readonly args: unknown[];
  readonly options: Pick<EnqueueOptions, 'maxRetries' | 'timeout'>;
  /** How the entry ticks, as written (`every 100 ms`, `cron '0 7 * * *'`). */
  readonly describe: string;
  /** The longest gap between two ticks, about: the interval, or a minute for cron (its resolution). */
  readonly periodMs: number;
  /** The first tick strictly after `after` (epoch ms). */
  next(after: number): number;
}

const NAME = /^[A-Za-z0-9_.:-]{1,100}$/;
const KEYS = new Set(['name', 'task', 'args', 'every', 'cron', 'options']);
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** The shortest interval: ten ticks a second per beat process is plenty for a queue. */
export const MIN_EVERY_MS = 10;
/** The longest interval, the longest timer Node has (a beat sleeps at most a second at a time anyway). */
const MAX_EVERY_MS = 2 ** 31 - 1;

/** `'100ms'`, `'5s'`, `'1.5m'`, `'1h'`, `'1d'` or a number of ms, as whole ms; a UserError otherwise. */
export function parseDuration(value: string | number): number {
  const match = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value) : null;
  const ms = typeof value === 'number' ? value : match ? Number(match[1]) * UNITS[match[2]!]! : Number.NaN;
  if (!Number.isInteger(ms) || ms < MIN_EVERY_MS || ms > MAX_EVERY_MS) {
    const got = typeof value === 'string' ? `'${value}'` : String(value);
    throw new UserError(
      `every must be a whole number of ms from ${MIN_EVERY_MS} to ${MAX_EVERY_MS}, or like '100ms', '5s', '2m', '1h', '1d'; got ${got}`,
    );
  }
  return ms;
}

/** The first tick of `every` strictly after `after`: ticks are whole multiples of the interval since the epoch. */
export function nextIntervalTick(everyMs: number, after: number): number {
  return (Math.floor(after / everyMs) + 1) * everyMs;
}

/** Checks a schedule's entries; the first problem is a UserError naming the entry. */
export function checkSchedule(entries: unknown, source = 'the schedule'): Schedule[] {
  if (!Array.isArray(entries)) {
    throw new UserError(
      `${source} must export an array of entries ({ name, task, args, every | cron }), got ${describeValue(entries)}`,
    );
  }
  if (entries.length === 0) throw new UserError(`${source} has no entries: nothing to enqueue`);
  const seen = new Set<string>();
  return entries.map((entry, i) => {
    const label =
      typeof entry === 'object' && entry !== null && typeof (entry as ScheduleEntry).name === 'string'
        ? `entry '${(entry as ScheduleEntry).name}'`
        : `entry #${i + 1}`;
    try {
      const schedule = checkEntry(entry);
      if (seen.has(schedule.name)) throw new UserError('another entry has the same name');
      seen.add(schedule.name);
      return schedule;
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      throw new UserError(`${source}: ${label}: ${error.message}`);
    }
  });
}

function checkEntry(entry: unknown): Schedule {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new UserError(`expected an object { name, task, args, every | cron }, got ${describeValue(entry)}`);
  }
  const e = entry as Record<string, unknown>;
  const unknown = Object.keys(e).filter((key) => !KEYS.has(key));
  if (unknown.length > 0) {
    throw new UserError(
      `unknown field ${unknown.map((k) => `'${k}'`).join(', ')} (fields: ${[...KEYS].join(', ')})`,
    );
  }
  if (typeof e.name !== 'string' || !NAME.test(e.name)) {
    throw new UserError(`name must be 1 to 100 letters, digits or _ . : -, got ${describeValue(e.name)}`);
  }
  if (typeof e.task !== 'string' || e.task.length === 0) {
    throw new UserError(`task must be a task's name, got ${describeValue(e.task)}`);
  }
  const args = e.args ?? [];
  if (!Array.isArray(args)) throw new UserError(`args must be an array, got ${describeValue(args)}`);
  const options = (e.options ?? {}) as Schedule['options'];
  if (typeof options !== 'object' || options === null) {
    throw new UserError(`options must be an object { maxRetries, timeout }, got ${describeValue(options)}`);
  }
  const extra = Object.keys(options).filter((key) => key !== 'maxRetries' && key !== 'timeout');
  if (extra.length > 0) throw new UserError(`options takes maxRetries and timeout, not ${extra.join(', ')}`);
  // The message each tick sends, made once now: what it would refuse (arguments that are not JSON, a bad
  // timeout) is said at start, not at the first tick.
  encodeEnvelope(createEnvelope(e.task, args, options));
  if ((e.every === undefined) === (e.cron === undefined)) {
    throw new UserError("give exactly one of every (like '5s') and cron (like '*/5 * * * *')");
  }
  const base = { name: e.name, task: e.task, args, options };
  if (e.every !== undefined) {
    if (typeof e.every !== 'string' && typeof e.every !== 'number') {
      throw new UserError(`every must be like '5s' or a number of ms, got ${describeValue(e.every)}`);
    }
    const every = parseDuration(e.every);
    return {
      ...base,
      describe: `every ${every} ms`,
      periodMs: every,
      next: (after) => nextIntervalTick(every, after),
    };
  }
  const cron: Cron = parseCron(e.cron as string);
  return {
    ...base,
    describe: `cron '${cron.source}' (UTC)`,
    periodMs: 60_000,
    next: (after) => nextCronTime(cron, after),
  };
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/**
 * Loads a schedule file: a `.json` array, or a TypeScript or JavaScript module whose default export is the array
 * (`export default defineSchedule([...])`). Every problem is one line naming the file and the entry.
 */
export async function loadSchedule(path: string): Promise<Schedule[]> {
  const absolute = resolve(path);
  const shown = basename(path);
  if (!existsSync(absolute))
    throw new UserError(`No schedule file at ${path}: pass --schedule path/to/schedule.ts`);
  let entries: unknown;
  if (absolute.endsWith('.json')) {
    try {
      entries = JSON.parse(readFileSync(absolute, 'utf8'));
    } catch (error) {
      throw new UserError(`${shown} is not valid JSON: ${errorMessage(error)}`);
    }
  } else if (/\.(ts|mts|js|mjs)$/.test(absolute)) {
    let module: { default?: unknown };
    try {
      module = (await import(pathToFileURL(absolute).href)) as { default?: unknown };
    } catch (error) {
      throw new UserError(
        `Cannot load the schedule ${path}: ${errorMessage(error).replace(/\s*\n\s*/g, ' ')}`,
      );
    }
    if (module.default === undefined) {
      throw new UserError(
        `${shown} must \`export default defineSchedule([...])\` (from mini-queue/index.ts)`,
      );
    }
    entries = module.default;
  } else {
    throw new UserError(`${path}: a schedule is a .json file or a .ts/.js module`);
  }
  return checkSchedule(entries, shown);
}
