/**
 * Specs graded one after another under long-lived runners (checker/spec-batch.ts), as variants.test.ts grades every
 * wrong variant, say what a vitest of their own says (run-spec.ts, `npm run check`): the same checks with the same
 * results and messages, a check that hangs stopped at its limit and named, a loop that never yields stopped by the
 * backstop and named, and nothing a stopped spec started left running. A runner stopped that way is replaced: the
 * next spec on the same batch is graded as if nothing happened.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { checkLab, firstFailing } from '../checker/grade.ts';
import { SpecBatch } from '../checker/spec-batch.ts';
import { loadVariants, materialise, removeVariant } from '../checker/variants.ts';
import { type LabInfo, listLabs } from '../kit/labs.ts';
import { MISTAKES } from './fixtures/mistakes.ts';
import { loadNow, loadStretch } from './helpers/load.ts';
import { until } from './helpers/queues.ts';

const HANGS = fileURLToPath(new URL('./fixtures/hangs.spec.ts', import.meta.url));
const labs = listLabs();
const variants = await loadVariants();
const batch = new SpecBatch();
const tracks: string[] = [];
afterAll(async () => {
  await batch.close();
  for (const track of tracks) removeVariant(track);
});

/** The environment a test sets for the grader (its limits), undone after it. */
const saved = { ...process.env };
afterEach(() => {
  for (const key of ['MQ_CHECK_TIME_LIMIT_S', 'MQ_CHECK_SPEC_LIMIT_S']) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});

function labOf(name: string): LabInfo {
  return labs.find((l) => l.name === name)!;
}

/** A wrong variant (checker/variants) or a learner's mistake (test/fixtures/mistakes.ts) as a track. */
function trackOf(name: string): { lab: LabInfo; track: string; only: string } {
  const variant = variants.find((v) => v.name === name);
  if (variant) {
    const track = materialise({ ...variant, name: `batch-${name}` });
    tracks.push(track);
    return { lab: labOf(variant.lab), track, only: variant.checks };
  }
  const mistake = MISTAKES.find((m) => m.name === name)!;
  const track = materialise({
    ...mistake,
    name: `batch-${name}`,
    flaw: mistake.says,
    checks: mistake.only,
  });
  tracks.push(track);
  return { lab: labOf(mistake.lab), track, only: mistake.only };
}

/** Live processes whose environment says they grade `track` (a spec process, or anything a lab started). */
function processesOf(track: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const zombie = stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
      if (!zombie && environ.includes(`MQ_TRACK=${track}`)) found.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}

describe('specs graded under long-lived runners', () => {
  it('say what a vitest of their own says: every check, its result, its message and place', async () => {
    // Checks that pass and checks that fail, in one spec run.
    const { lab, track } = trackOf('recover-to-the-back');
    const only = '00.4 ';
    const alone = await checkLab(lab, track, {}, only, { types: false });
    const batched = await checkLab(lab, track, {}, only, { types: false, runSpec: batch.runSpec });
    const seen = (verdict: typeof alone) =>
      verdict.checks.map(({ title, status, message, where, hung, notRun }) => ({
        title,
        status,
        message,
        where,
        hung,
        notRun,
      }));
    expect(seen(alone).filter((c) => c.status === 'failed').length, 'some checks fail').toBeGreaterThan(0);
    expect(seen(alone).filter((c) => c.status === 'passed').length, 'some checks pass').toBeGreaterThan(1);
    expect(seen(batched)).toEqual(seen(alone));
    expect(batched.reason).toBe(alone.reason);
  });

  it('a check that hangs: stopped at its limit and named, with everything it started', async () => {
    process.env.MQ_CHECK_TIME_LIMIT_S = '6';
    const track = `.variant-batch-hangs-${process.pid}`;
    const loadAtStart = loadNow();
    const started = Date.now();
    const run = await batch.runSpec(HANGS, track);
    const seconds = (Date.now() - started) / 1000;
    expect(run.checks).toMatchObject([
      { title: 'starts a process, then waits for ever', status: 'failed', hung: true },
    ]);
    expect(run.checks[0]!.message).toMatch(/no answer within 6 s: it hung/);
    expect(run.hung).toBe('starts a process, then waits for ever');
    // Its limit plus a runner's start-up: not the 180 s backstop.
    expect(seconds, 'seconds until the verdict').toBeLessThan(6 + 20 * loadStretch(loadAtStart));
    // The process its check started (a `sleep 300`) went with it: the runner's whole group was stopped.
    await until(() => processesOf(track).length === 0, 5000);
  });

  it("a lab's check that hangs is named as `npm run check` names it; the next spec gets a new runner", async () => {
    process.env.MQ_CHECK_TIME_LIMIT_S = '6';
    const mistake = MISTAKES.find((m) => m.name === 'ms-for-s')!;
    const hung = trackOf('ms-for-s');
    const verdict = await checkLab(hung.lab, hung.track, {}, hung.only, {
      types: false,
      runSpec: batch.runSpec,
    });
    const first = firstFailing(verdict.checks)!;
    expect(first.title).toMatch(mistake.check);
    expect(first.message).toMatch(mistake.says);
    expect(first.hung).toBe(true);
    await until(() => processesOf(hung.track).length === 0, 5000);

    // Same limit, so the same kind of runner: the stopped one is gone, a new one grades this.
    const next = trackOf('lifo-push');
    const after = await checkLab(next.lab, next.track, {}, next.only, {
      types: false,
      runSpec: batch.runSpec,
    });
    expect(after.verdict).toBe('fail');
    expect(firstFailing(after.checks)!.message).toMatch(/first in, first out/);
    expect(firstFailing(after.checks)!.hung).toBeUndefined();
  });

  it('a loop that never yields: the backstop stops it and names the check that was running', async () => {
    process.env.MQ_CHECK_SPEC_LIMIT_S = '12';
    const mistake = MISTAKES.find((m) => m.name === 'busy-wait')!;
    const stuck = trackOf('busy-wait');
    const verdict = await checkLab(stuck.lab, stuck.track, {}, stuck.only, {
      types: false,
      runSpec: batch.runSpec,
    });
    const first = firstFailing(verdict.checks)!;
    expect(first.title).toMatch(mistake.check);
    expect(first.message).toMatch(mistake.says);
    expect(first.message).toMatch(/not even its own time limit could fire/);
    await until(() => processesOf(stuck.track).length === 0, 5000);
  });
});
