/**
 * Cron expressions, the five fields of crontab(5): `minute hour day-of-month month day-of-week`, read in UTC.
 *
 *   '0/15 9-17 * * mon-fri'   every 15 minutes from 09:00 to 17:45, Monday to Friday
 *   '0 0 1,15 * *'            midnight on the 1st and the 15th
 *
 * Each field is `*`, a number, a range `a-b`, a step (`*` or a range followed by `/n`, or `a/n`: from a to the
 * field's end), or a comma list of those; months and weekdays also by name (`jan`, `mon`), weekday 0 or 7 for Sunday. When both day
 * fields are restricted a day matches either (Vixie cron's rule: `0 0 1 * mon` is the 1st and every Monday); when
 * one starts with `*` a day must match both. `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly` and
 * `@yearly` (`@annually`) stand for their usual expressions.
 *
 * Our own, small and tested (test/cron.test.ts), rather than a dependency: five fields and UTC are all a beat
 * needs, and UTC is what lets several beats on machines set to different zones agree on every tick (a schedule
 * in local time also skips or repeats ticks when the clocks change).
 */
import { UserError } from './errors.ts';

export interface Cron {
  /** The expression as written. */
  readonly source: string;
  readonly minutes: readonly boolean[];
  readonly hours: readonly boolean[];
  /** Index 1 to 31. */
  readonly days: readonly boolean[];
  /** Index 1 to 12. */
  readonly months: readonly boolean[];
  /** Index 0 (Sunday) to 6. */
  readonly weekdays: readonly boolean[];
  /** A day must match both day fields (one of them starts with `*`); else either. */
  readonly daysAnd: boolean;
}

const NICKNAMES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface Field {
  name: string;
  min: number;
  max: number;
  /** Names for min, min + 1, ... */
  names?: string[];
}

const FIELDS: Field[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  // 7 is Sunday too (crontab(5)); folded onto 0 below.
  { name: 'day of week', min: 0, max: 7, names: WEEKDAYS },
];

/** The longest a month can be, by month number: February has a 29th in leap years. */
const MONTH_DAYS = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Parses a cron expression; a UserError says which field is wrong and why. */
export function parseCron(source: string): Cron {
  if (typeof source !== 'string') throw new UserError(`a cron expression is a string, got ${typeof source}`);
  const text = source.trim().toLowerCase();
  const expanded = text.startsWith('@') ? NICKNAMES[text] : text;
  if (expanded === undefined) {
    throw new UserError(`cron '${source}': unknown nickname (use ${Object.keys(NICKNAMES).join(', ')})`);
  }
  const parts = expanded.split(/\s+/).filter(Boolean);
  if (parts.length !== 5) {
    throw new UserError(
      `cron '${source}': expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`,
    );
  }
  const [minutes, hours, days, months, weekdays] = parts.map((part, i) =>
    parseField(source, part, FIELDS[i]!),
  );
  // Sunday is 0 and 7.
  if (weekdays![7]) weekdays![0] = true;
  weekdays!.length = 7;
  const cron: Cron = {
    source,
    minutes: minutes!,
    hours: hours!,
    days: days!,
    months: months!,
    weekdays: weekdays!,
    daysAnd: parts[2]!.startsWith('*') || parts[4]!.startsWith('*'),
  };
  // Refused here rather than waited for in vain: '0 0 30 2 *' would never fire. With a weekday too, every date
  // falls on every weekday within 28 years, so a day that exists in one of the months is enough.
  const exists = cron.months.some(
    (on, month) => on && cron.days.some((d, day) => d && day <= MONTH_DAYS[month]!),
  );
  if (!exists) throw new UserError(`cron '${source}' never fires: none of those months has those days`);
  return cron;
}

function parseField(source: string, text: string, field: Field): boolean[] {
  const on = new Array<boolean>(field.max + 1).fill(false);
  const bad = (why: string) => new UserError(`cron '${source}': ${field.name} '${text}': ${why}`);
  for (const item of text.split(',')) {
    const match = /^([^/]+)(?:\/(.+))?$/.exec(item);
    if (!match) throw bad(`'${item}' is not a value, a range or a step`);
    const [, range, stepText] = match as unknown as [string, string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!/^\d+$/.test(stepText ?? '1') || step < 1) throw bad('the step must be a whole number >= 1');
    let from: number;
    let to: number;
    // The field's end: Saturday for weekdays, whose 7 (Sunday again) only counts when written.
    const last = field.max === 7 ? 6 : field.max;
    if (range === '*') {
      from = field.min;
      to = last;
    } else {
      const [a, b, ...rest] = range.split('-');
      if (rest.length > 0 || a === '' || b === '') throw bad(`'${range}' is not a value or a range a-b`);
      from = value(a!, field, bad);
      // `a/n` runs from a to the end of the field.
      to = b !== undefined ? value(b, field, bad) : stepText !== undefined ? last : from;
      if (from > to) throw bad(`the range ${range} runs backwards`);
    }
    for (let v = from; v <= to; v += step) on[v] = true;
  }
  return on;
}

function value(text: string, field: Field, bad: (why: string) => UserError): number {
  const named = field.names?.indexOf(text) ?? -1;
  if (named >= 0) return field.min + named;
  if (!/^\d+$/.test(text)) {
    const names = field.names ? ` or a name (${field.names.join(', ')})` : '';
    throw bad(`'${text}' is not a number${names}`);
  }
  const n = Number(text);
  if (n < field.min || n > field.max) throw bad(`${n} is out of range ${field.min}-${field.max}`);
  return n;
}

/** Whether a UTC date matches the cron's day fields. */
function dayMatches(cron: Cron, date: Date): boolean {
  const day = cron.days[date.getUTCDate()] === true;
  const weekday = cron.weekdays[date.getUTCDay()] === true;
  return cron.daysAnd ? day && weekday : day || weekday;
}

/**
 * The first time the cron fires strictly after `after` (epoch ms), at the start of a minute, UTC. Skips a whole
 * month, day or hour at a time when that field does not match, so a rare schedule costs a few thousand steps.
 */
export function nextCronTime(cron: Cron, after: number): number {
  let t = Math.floor(after / 60_000) * 60_000 + 60_000;
  // 28 years of days and months, with room: parseCron made sure a match exists within them.
  for (let steps = 0; steps < 200_000; steps++) {
    const d = new Date(t);
    const [year, month, date, hour] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours()];
    if (!cron.months[month + 1]) t = Date.UTC(year, month + 1, 1);
    else if (!dayMatches(cron, d)) t = Date.UTC(year, month, date + 1);
    else if (!cron.hours[hour]) t = Date.UTC(year, month, date, hour + 1);
    else if (!cron.minutes[d.getUTCMinutes()]) t += 60_000;
    else return t;
  }
  throw new Error(`cron '${cron.source}': no time found after ${new Date(after).toISOString()}`);
}
