/**
 * The learner's loop (issue #15): every mistake gets a message that names it, at once, and nothing hangs in
 * silence. A scripted learner makes a beginner's mistakes across the labs (test/fixtures/mistakes.ts: patches on
 * the solutions, written into `.variant-learner-<name>/` tracks) and runs `npm run check` on each, as a person
 * would. For each: the verdict names the right check first, points at the learner's file and the line that holds
 * the mistake (or the TODO it belongs to), says what went wrong in plain words, shows it in the terminal within
 * 20 s of starting, and prints no stack trace. A syntax error and a broken Lua script say so in one line in the
 * demo too.
 */
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { firstFailing } from '../checker/grade.ts';
import { materialise, removeVariant } from '../checker/variants.ts';
import type { CheckReport, CheckResult } from '../kit/report.ts';
import { checkOne } from '../menu/actions.ts';
import { createKit, labOf } from '../menu/kit.ts';
import { visible } from '../menu/text.ts';
import { makeTempKit } from './fixtures/lab-cli-kit.ts';
import { MISTAKES, type Mistake } from './fixtures/mistakes.ts';
import { ROOT, start } from './helpers/cli.ts';
import { loadNow, loadStretch } from './helpers/load.ts';

const tracks: string[] = [];
afterAll(() => {
  for (const track of tracks) removeVariant(track);
});

function track(mistake: Mistake): string {
  const folder = materialise({
    ...mistake,
    name: `learner-${mistake.name}`,
    flaw: mistake.says,
    checks: mistake.only,
  });
  tracks.push(folder);
  return folder;
}

interface Seen {
  code: number | null;
  out: string;
  /** Seconds from the start until `wanted` first appeared on stdout or stderr. */
  seenAfter: number | undefined;
}

/** Runs `node --import tsx ARGS` and notes when `wanted` first shows up in what it prints. */
function watch(args: string[], env: Record<string, string>, wanted: (out: string) => boolean): Promise<Seen> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = start(args, env);
    let out = '';
    let seenAfter: number | undefined;
    const take = (chunk: Buffer) => {
      out += chunk.toString();
      if (seenAfter === undefined && wanted(out)) seenAfter = (Date.now() - started) / 1000;
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    child.on('close', (code) => resolve({ code, out, seenAfter }));
  });
}

/**
 * 20 s on a quiet machine. Other work on a shared machine slows everything alike (the grader, vitest, the
 * compiler): the budget grows with the load, up to six times (as far as the specs' own hang limits stretch),
 * taking the higher load of the run's start and end, so a busy CI box does not read as a slow grader.
 */
function budgetS(loadAtStart: number): number {
  return 20 * loadStretch(loadAtStart);
}

/** A stack trace's frame (`    at fn (file:1:2)`) or Node's own crash banner. */
const STACK = /^\s+at .*:\d+:\d+\)?$|node:internal|triggerUncaughtException/m;

function lineOf(where: string): string {
  const [, file, line] = /^(.*):(\d+)$/.exec(where) ?? [];
  return readFileSync(join(ROOT, file ?? ''), 'utf8').split('\n')[Number(line) - 1] ?? '';
}

/** At most `n` at once: each mistake is a grader process and a vitest process under it, on a two-core machine. */
function limit(n: number): <T>(job: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: Array<() => void> = [];
  return async (job) => {
    if (active >= n) await new Promise<void>((resolve) => queue.push(resolve));
    else active++;
    try {
      return await job();
    } finally {
      const next = queue.shift();
      if (next) next();
      else active--;
    }
  };
}
const slot = limit(2);

describe('the learner loop: a scripted learner makes mistakes', () => {
  it.concurrent.each(MISTAKES)(
    '$name ($description): named at once, with the check, the file:line, what went wrong, no stack',
    { timeout: 300_000 },
    (mistake) =>
      slot(async () => {
        const folder = track(mistake);
        const report = join(tmpdir(), `learner-${mistake.name}-${process.pid}.json`);
        const id = mistake.lab.slice(0, 2);
        const loadAtStart = loadNow();
        const ran = await watch(
          ['checker/index.ts', id, '--track', folder, '--only', mistake.only, '--json', report],
          mistake.env ?? {},
          // The learner's file:line, streamed under the ✗ of the check that failed.
          (out) => out.includes(`${folder}/${mistake.in}:`),
        );
        const verdict = (JSON.parse(readFileSync(report, 'utf8')) as CheckReport).labs[0]!;
        rmSync(report, { force: true });
        const first = verdict.firstFailure;
        const context = `${mistake.name}: ${verdict.reason}\n${ran.out}`;
        expect(ran.code, context).toBe(1);
        expect(first?.check, context).toMatch(mistake.check);
        expect(first?.message, context).toMatch(mistake.says);
        expect(first?.where, context).toMatch(new RegExp(`^${folder}/${mistake.in}:\\d+$`));
        expect(lineOf(first!.where!), `${context}\nthe line it points at`).toContain(mistake.at);
        // The terminal shows it, not only the JSON: the check's name, its message, the place.
        expect(ran.out, context).toContain(first!.message);
        expect(ran.out, context).toContain(first!.where!);
        expect(ran.out, context).not.toMatch(STACK);
        expect(ran.seenAfter, `${context}\nseconds until the file:line showed`).toBeLessThan(
          budgetS(loadAtStart),
        );
      }),
  );

  it.concurrent.each(MISTAKES.filter((m) => m.name === 'syntax' || m.name === 'lua-syntax'))(
    'the demo says $name in one line, file:line:col, no stack',
    { timeout: 300_000 },
    async (mistake) => {
      const folder = track({ ...mistake, name: `${mistake.name}-demo` });
      const ran = await slot(() =>
        watch(['labs/00-broker/index.ts', '--track', folder, '--tasks', '10'], {}, () => false),
      );
      expect(ran.code, ran.out).toBe(1);
      expect(ran.out).toMatch(new RegExp(`${folder}/${mistake.in}:\\d+:\\d+: `));
      expect(ran.out).not.toMatch(STACK);
      expect(ran.out).not.toMatch(/Only \d+\/\d+ tasks done/);
    },
  );
});

describe('the first check to fix', () => {
  const check = (title: string, extra: Partial<CheckResult> = {}): CheckResult => ({
    title,
    status: 'failed',
    ...extra,
  });

  it('goes in TODO order, the compile check first, checks that did not run last', () => {
    const checks = [
      check('00 a worker drains the queue'),
      check('00.3 acks'),
      check('00.2 reserves', { notRun: true }),
      check('00.2 leases'),
      { title: '00 compiles', status: 'passed' as const },
    ];
    expect(firstFailing(checks)?.title).toBe('00.2 leases');
    expect(firstFailing([check('00.10 later'), check('00.9 earlier')])?.title).toBe('00.9 earlier');
    expect(firstFailing([check('03.1 x'), check('03 compiles')])?.title).toBe('03 compiles');
    expect(firstFailing([check('00.1 x', { notRun: true }), check('00 whole')])?.title).toBe('00 whole');
  });
});

describe('the menu and watch mode show the same', () => {
  it("stream each check with a running count, then the first to fix, its file:line and its TODO's hint", async () => {
    const k = makeTempKit({ git: false });
    try {
      const lines: string[] = [];
      const failed: CheckResult = {
        title: '00.2 doubles it',
        status: 'failed',
        message: 'twice(2) is 4: expected 2 to be 4',
        where: 'labs/00-demo/part.ts:7',
      };
      const kit = createKit({
        root: k.root,
        out: (line = '') => lines.push(...visible(line).split('\n')),
        err: (line = '') => lines.push(...visible(line).split('\n')),
        check: async (lab, _track, onEvent) => {
          onEvent?.({ type: 'collected', titles: ['00 compiles', '00.1 adds', failed.title] });
          onEvent?.({ type: 'check', check: { title: '00 compiles', status: 'passed' } });
          onEvent?.({ type: 'check', check: { title: '00.1 adds', status: 'passed' } });
          onEvent?.({ type: 'slow', title: failed.title, seconds: 10, limitS: 20 });
          onEvent?.({ type: 'check', check: failed });
          const { title: check, message, where } = failed as Required<CheckResult>;
          return {
            lab: lab.name,
            track: 'labs',
            passed: 2,
            total: 3,
            verdict: 'fail',
            todo: '00.2',
            firstFailure: { check, todo: '00.2', where, message },
            reason: `${check}: ${message} (${where})`,
            checks: [],
            measurements: [],
            seconds: 12,
          };
        },
        demo: async () => 0,
      });
      await checkOne(kit, labOf(kit, '00'));
      const text = lines.join('\n');
      expect(text).toMatch(/Checking 00-demo on your files \(\d+ checks, usually under a minute\)/);
      expect(text).toMatch(/1\/3 ✓ 00 compiles\n\s+2\/3 ✓ 00\.1 adds/);
      expect(text).toContain('… 00.2 doubles it: still running after 10 s (it is called hung at 20 s)');
      expect(text).toMatch(
        /3\/3 ✗ 00\.2 doubles it\n\s+labs\/00-demo\/part\.ts:7: twice\(2\) is 4: expected 2 to be 4/,
      );
      expect(text).toContain('First to fix: 00.2 doubles it');
      expect(text).toContain('hint 1/1 for TODO(00.2): Only hint for two.');
      // The next check promises what this one took.
      lines.length = 0;
      await checkOne(kit, labOf(kit, '00'));
      expect(lines.join('\n')).toContain('Checking 00-demo on your files (about 12 s last time)');
    } finally {
      k.remove();
    }
  });
});
