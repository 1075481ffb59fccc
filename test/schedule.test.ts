/**
 * Beat's schedules and the rate limits' syntax, without Redis: cron fields (ranges, steps, lists, names, the day
 * rule), the next time a cron fires, interval ticks aligned to the clock, and one clear line for each bad input.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nextCronTime, parseCron } from '../mini-queue/cron.ts';
import { UserError } from '../mini-queue/errors.ts';
import { rateInterval } from '../mini-queue/rate.ts';
import { checkSchedule, loadSchedule, nextIntervalTick, parseDuration } from '../mini-queue/schedule.ts';
import { defineTasks } from '../mini-queue/tasks.ts';

/** The values a cron field allows, as a list. */
function on(field: readonly boolean[]): number[] {
  return field.flatMap((set, i) => (set ? [i] : []));
}

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('cron fields', () => {
  it('reads *, numbers, ranges, steps and lists', () => {
    const cron = parseCron('*/15 9-17/4 1,15,31 * *');
    expect(on(cron.minutes)).toEqual([0, 15, 30, 45]);
    expect(on(cron.hours)).toEqual([9, 13, 17]);
    expect(on(cron.days)).toEqual([1, 15, 31]);
    expect(on(cron.months)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(on(cron.weekdays)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(on(parseCron('5/20 0 * * *').minutes), 'a/n runs from a to the end').toEqual([5, 25, 45]);
    expect(on(parseCron('1-3,7,50-59/5 0 * * *').minutes)).toEqual([1, 2, 3, 7, 50, 55]);
  });

  it('reads month and weekday names in any case, and 7 as Sunday', () => {
    const cron = parseCron('0 0 * JAN-mar,Dec mon-FRI');
    expect(on(cron.months)).toEqual([1, 2, 3, 12]);
    expect(on(cron.weekdays)).toEqual([1, 2, 3, 4, 5]);
    expect(on(parseCron('0 0 * * 5-7').weekdays)).toEqual([0, 5, 6]);
    expect(on(parseCron('0 0 * * sun').weekdays)).toEqual([0]);
  });

  it('expands the nicknames', () => {
    expect(parseCron('@daily')).toMatchObject({ daysAnd: true });
    expect(on(parseCron('@hourly').minutes)).toEqual([0]);
    expect(on(parseCron('@hourly').hours)).toHaveLength(24);
    expect(on(parseCron('@weekly').weekdays)).toEqual([0]);
    expect(on(parseCron('@yearly').months)).toEqual([1]);
  });

  it.each([
    ['* * * *', 'expected 5 fields (minute hour day-of-month month day-of-week), got 4'],
    ['0 * * * * *', 'expected 5 fields'],
    ['60 * * * *', "minute '60': 60 is out of range 0-59"],
    ['* 24 * * *', "hour '24': 24 is out of range 0-23"],
    ['* * 0 * *', "day of month '0': 0 is out of range 1-31"],
    ['* * * 13 *', "month '13': 13 is out of range 1-12"],
    ['* * * * 8', "day of week '8': 8 is out of range 0-7"],
    ['*/0 * * * *', "minute '*/0': the step must be a whole number >= 1"],
    ['*/x * * * *', 'the step must be a whole number >= 1'],
    ['10-5 * * * *', "minute '10-5': the range 10-5 runs backwards"],
    ['1-2-3 * * * *', "'1-2-3' is not a value or a range a-b"],
    ['a * * * *', "minute 'a': 'a' is not a number"],
    ['0 0 * foo *', "'foo' is not a number or a name (jan, feb"],
    ['0 0 ,1 * *', "day of month ',1'"],
    ['0 0 30 2 *', 'never fires: none of those months has those days'],
    ['0 0 31 4,6,9,11 *', 'never fires'],
    ['@often', 'unknown nickname (use @yearly'],
  ])('refuses %j in one line, naming the field', (text, message) => {
    let thrown: unknown;
    try {
      parseCron(text);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UserError);
    expect((thrown as Error).message).toContain(message);
    expect((thrown as Error).message).toContain(`cron '${text}'`);
    expect((thrown as Error).message).not.toContain('\n');
  });
});

describe('the next time a cron fires (UTC)', () => {
  it.each([
    // After 08:00 on Friday 2026-11-27: the next weekday at 07:00 is Monday.
    ['0 7 * * mon-fri', '2026-11-27T08:00:00Z', '2026-11-30T07:00:00.000Z'],
    ['*/15 * * * *', '2026-11-27T08:14:59.999Z', '2026-11-27T08:15:00.000Z'],
    // Strictly after: a time that matches gives the next one.
    ['*/15 * * * *', '2026-11-27T08:15:00Z', '2026-11-27T08:30:00.000Z'],
    ['* * * * *', '2026-11-27T08:15:30.500Z', '2026-11-27T08:16:00.000Z'],
    // Across an hour, a day, a month and a year.
    ['59 23 31 12 *', '2026-01-01T00:00:00Z', '2026-12-31T23:59:00.000Z'],
    ['0 0 1 1 *', '2026-12-31T23:59:00Z', '2027-01-01T00:00:00.000Z'],
    // A month that does not match is skipped whole, to its 1st.
    ['0 0 1 3 *', '2026-11-05T00:00:00Z', '2027-03-01T00:00:00.000Z'],
    // The 31st skips the months without one.
    ['0 0 31 * *', '2026-04-01T00:00:00Z', '2026-05-31T00:00:00.000Z'],
    // 29 February: the next leap year.
    ['0 12 29 2 *', '2026-03-01T00:00:00Z', '2028-02-29T12:00:00.000Z'],
    // Both day fields restricted: either matches (Monday 30th comes before Tuesday 1st, then the 1st).
    ['0 0 1 * mon', '2026-11-28T00:00:00Z', '2026-11-30T00:00:00.000Z'],
    ['0 0 1 * mon', '2026-11-30T00:00:00Z', '2026-12-01T00:00:00.000Z'],
    // One starts with '*': both must match. An odd day that is a Monday: after the 7th, the 14th is even, the
    // 21st is not.
    ['0 0 */2 * mon', '2026-12-07T00:00:00Z', '2026-12-21T00:00:00.000Z'],
    ['@weekly', '2026-11-27T00:00:00Z', '2026-11-29T00:00:00.000Z'],
  ])('%s after %s: %s', (text, after, expected) => {
    expect(iso(nextCronTime(parseCron(text), at(after)))).toBe(expected);
  });

  it('agrees with a minute-by-minute scan (skipping months, days and hours finds the same minutes)', () => {
    const matches = (c: ReturnType<typeof parseCron>, d: Date) => {
      const day = c.days[d.getUTCDate()]!;
      const weekday = c.weekdays[d.getUTCDay()]!;
      return (
        c.minutes[d.getUTCMinutes()]! &&
        c.hours[d.getUTCHours()]! &&
        c.months[d.getUTCMonth() + 1]! &&
        (c.daysAnd ? day && weekday : day || weekday)
      );
    };
    const texts = [
      '*/7 3-5 * * *',
      '0 0 1 * mon',
      '30 12 */3 * *',
      '15 */6 * 2,3 sat',
      '0 0 31 * *',
      '@hourly',
    ];
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (const text of texts) {
      const cron = parseCron(text);
      for (let run = 0; run < 5; run++) {
        const from = at('2026-01-01T00:00:00Z') + Math.floor(random() * 365 * 86_400_000);
        let scan = Math.floor(from / 60_000) * 60_000 + 60_000;
        while (!matches(cron, new Date(scan))) scan += 60_000;
        expect(iso(nextCronTime(cron, from)), `${text} after ${iso(from)}`).toBe(iso(scan));
      }
    }
  });

  it('walks a schedule tick by tick', () => {
    const cron = parseCron('0,30 9-10 * * *');
    let t = at('2026-11-27T00:00:00Z');
    const ticks: string[] = [];
    for (let i = 0; i < 5; i++) {
      t = nextCronTime(cron, t);
      ticks.push(iso(t).slice(0, 16));
    }
    expect(ticks).toEqual([
      '2026-11-27T09:00',
      '2026-11-27T09:30',
      '2026-11-27T10:00',
      '2026-11-27T10:30',
      '2026-11-28T09:00',
    ]);
  });
});

describe('intervals', () => {
  it.each([
    ['100ms', 100],
    ['5s', 5000],
    ['1.5m', 90_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    [' 10 ms ', 10],
    [250, 250],
  ])('%j is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([['0ms'], ['5ms'], ['5 sec'], ['1.0005s'], ['-1s'], ['fast'], [''], [9], [0.5], [Number.NaN]])(
    'refuses %j in one line',
    (value) => {
      expect(() => parseDuration(value)).toThrow(
        /^every must be a whole number of ms from 10 to 2147483647, or like '100ms'.*; got /,
      );
    },
  );

  it('aligns ticks to the clock: beats started apart compute the same ticks', () => {
    expect(nextIntervalTick(100, 1234)).toBe(1300);
    expect(nextIntervalTick(100, 1300), 'strictly after').toBe(1400);
    // Two beats, one started 37 ms after the other, tick at the same instants.
    const a = [nextIntervalTick(100, 10_003)];
    const b = [nextIntervalTick(100, 10_040)];
    for (let i = 0; i < 3; i++) {
      a.push(nextIntervalTick(100, a.at(-1)!));
      b.push(nextIntervalTick(100, b.at(-1)!));
    }
    expect(a).toEqual([10_100, 10_200, 10_300, 10_400]);
    expect(b).toEqual(a);
    expect(nextIntervalTick(60_000, at('2026-11-27T08:15:30Z'))).toBe(at('2026-11-27T08:16:00Z'));
  });
});

describe('schedule entries', () => {
  it('checks a good schedule and ticks each entry', () => {
    const [ping, report] = checkSchedule([
      { name: 'ping', task: 'noop', every: '100ms' },
      {
        name: 'report',
        task: 'sendEmail',
        args: ['a@example.com'],
        cron: '0 7 * * *',
        options: { maxRetries: 2 },
      },
    ]);
    expect(ping).toMatchObject({ name: 'ping', task: 'noop', args: [], periodMs: 100 });
    expect(ping!.next(1234)).toBe(1300);
    expect(report).toMatchObject({ args: ['a@example.com'], options: { maxRetries: 2 }, periodMs: 60_000 });
    expect(iso(report!.next(at('2026-11-27T08:00:00Z')))).toBe('2026-11-28T07:00:00.000Z');
  });

  it.each([
    [{ name: 'x', task: 'noop' }, "entry 'x': give exactly one of every"],
    [{ name: 'x', task: 'noop', every: '1s', cron: '* * * * *' }, "entry 'x': give exactly one of every"],
    [{ name: 'x', task: 'noop', evry: '1s' }, "entry 'x': unknown field 'evry' (fields: name, task, args"],
    [{ name: 'x', task: 'noop', every: '1 second' }, "entry 'x': every must be a whole number of ms"],
    [{ name: 'x', task: 'noop', every: true }, "entry 'x': every must be like '5s'"],
    [{ name: 'x', task: 'noop', cron: '61 * * * *' }, "entry 'x': cron '61 * * * *': minute '61'"],
    [{ name: 'x', task: 'noop', every: '1s', args: 5 }, "entry 'x': args must be an array, got 5"],
    [{ name: 'x', every: '1s' }, "entry 'x': task must be a task's name, got nothing"],
    [{ name: 'has space', task: 'noop', every: '1s' }, "entry 'has space': name must be 1 to 100 letters"],
    [{ task: 'noop', every: '1s' }, 'entry #1: name must be'],
    [
      { name: 'x', task: 'noop', every: '1s', options: { retries: 1 } },
      "entry 'x': options takes maxRetries and timeout, not retries",
    ],
    [
      { name: 'x', task: 'noop', every: '1s', options: { timeout: 0 } },
      "entry 'x': Cannot enqueue 'noop': `timeout`",
    ],
    ['ping', 'entry #1: expected an object { name, task, args, every | cron }, got "ping"'],
  ])('refuses %j in one line naming the entry', (entry, message) => {
    expect(() => checkSchedule([entry], 'schedule.ts')).toThrow(`schedule.ts: ${message}`);
  });

  it('refuses two entries of one name, an empty schedule and one that is not an array', () => {
    const twice = [
      { name: 'a', task: 'noop', every: '1s' },
      { name: 'a', task: 'fib', every: '2s' },
    ];
    expect(() => checkSchedule(twice, 's.json')).toThrow(
      "s.json: entry 'a': another entry has the same name",
    );
    expect(() => checkSchedule([], 's.json')).toThrow('s.json has no entries');
    expect(() => checkSchedule({ name: 'a' }, 's.json')).toThrow('s.json must export an array of entries');
  });
});

describe('schedule files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mq-schedule-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('loads a JSON array and a TypeScript module', async () => {
    const json = file('s.json', JSON.stringify([{ name: 'ping', task: 'noop', every: 100 }]));
    expect((await loadSchedule(json)).map((e) => e.describe)).toEqual(['every 100 ms']);
    const ts = file(
      's.ts',
      `import { defineSchedule } from '${join(process.cwd(), 'mini-queue/index.ts')}';
export default defineSchedule([{ name: 'nightly', task: 'noop', cron: '@daily' }]);`,
    );
    expect((await loadSchedule(ts)).map((e) => e.describe)).toEqual(["cron '@daily' (UTC)"]);
  });

  it.each([
    ['bad.json', '[{ "name": ', 'bad.json is not valid JSON'],
    [
      'nodefault.ts',
      'export const entries = [];',
      'nodefault.ts must `export default defineSchedule([...])`',
    ],
    ['throws.ts', "throw new Error('boom');", 'Cannot load the schedule'],
    ['s.yaml', '- name: x', 'a schedule is a .json file or a .ts/.js module'],
    [
      'entry.json',
      '[{ "name": "x", "task": "noop", "every": "1s", "cron": "* * * * *" }]',
      "entry.json: entry 'x'",
    ],
  ])('%s: one line', async (name, text, message) => {
    await expect(loadSchedule(file(name, text))).rejects.toThrow(message);
  });

  it('a missing file says what to pass', async () => {
    await expect(loadSchedule(join(dir, 'nope.ts'))).rejects.toThrow('pass --schedule path/to/schedule.ts');
  });
});

describe('rate limits', () => {
  it.each([
    ['10/s', 100],
    ['10/m', 6000],
    ['1000/h', 3600],
    [' 2 / s ', 500],
    ['0.5/s', 2000],
    [5, 200],
  ])('%j: one start every %d ms', (rate, ms) => {
    expect(rateInterval(rate)).toBe(ms);
  });

  it('3/s is 333.33 ms: the interval keeps its fraction', () => {
    expect(rateInterval('3/s')).toBeCloseTo(333.333, 3);
  });

  it.each([['0/s'], ['10/d'], ['10'], ['fast'], [''], [0], [-1], [Number.POSITIVE_INFINITY]])(
    'refuses %j',
    (rate) => {
      expect(() => rateInterval(rate)).toThrow(/^a rate limit is like '10\/s', '100\/m' or '1000\/h'/);
    },
  );

  it('defineTasks checks each rate limit and the task it names', () => {
    const fib = (n: number) => n;
    expect(() => defineTasks({ fib }, { fib: { rateLimit: '10/s' } })).not.toThrow();
    expect(() => defineTasks({ fib }, { fib: { rateLimit: '10 per second' } })).toThrow(
      "defineTasks: 'fib': a rate limit is like '10/s'",
    );
    expect(() => defineTasks({ fib }, { fob: { rateLimit: '10/s' } } as never)).toThrow(
      "defineTasks: options for 'fob', which is not a task here",
    );
  });
});
