/**
 * Two labs graded side by side (checker/schedule.ts): a measuring check of the lab shown never shares the machine
 * with a check of its neighbour, and checks that measure nothing do run side by side. The spec side
 * (untilMayRun, checkDone) and the grader side (arbitrate) as `npm run check` runs them, in one process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { arbitrate, checkDone, Schedule, untilMayRun } from '../checker/schedule.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** Runs `checks` of one lab one after another; each says when it ran. */
async function lab(
  schedule: Schedule,
  name: string,
  checks: Array<{ ms: number; measures?: boolean }>,
  log: Array<{ lab: string; measures: boolean; from: number; to: number }>,
): Promise<void> {
  for (const check of checks) {
    await untilMayRun(schedule, name, check.measures === true);
    const from = performance.now();
    await sleep(check.ms);
    log.push({ lab: name, measures: check.measures === true, from, to: performance.now() });
    checkDone(schedule, name);
  }
}

describe('graded side by side', () => {
  it('a measuring check runs alone; the others overlap', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'mq-schedule-test-'));
    folders.push(folder);
    const schedule = new Schedule(folder);
    const referee = setInterval(() => arbitrate(schedule, 'A', 'B'), 5);
    const log: Array<{ lab: string; measures: boolean; from: number; to: number }> = [];
    try {
      // A asks to measure while B is in the middle of a long check: it must wait for that check to end.
      await Promise.all([
        lab(schedule, 'A', [{ ms: 40 }, { ms: 100, measures: true }, { ms: 20 }], log),
        lab(schedule, 'B', [{ ms: 150 }, { ms: 150 }, { ms: 50 }], log),
      ]);
    } finally {
      clearInterval(referee);
    }
    const measuring = log.filter((c) => c.measures);
    expect(measuring).toHaveLength(1);
    const [alone] = measuring;
    const beside = log.filter((c) => c.lab === 'B' && c.from < alone!.to && c.to > alone!.from);
    expect(beside, 'checks of the neighbour that ran during the measurement').toEqual([]);
    expect(
      log.filter((c) => c.lab === 'B' && c.from >= alone!.to).length,
      'checks of the neighbour held until the measurement was over (not one that waited for them all)',
    ).toBeGreaterThan(0);
    const overlapped = log.filter(
      (b) => b.lab === 'B' && log.some((a) => a.lab === 'A' && !a.measures && b.from < a.to && b.to > a.from),
    );
    expect(overlapped.length, 'checks of the neighbour that ran beside the others').toBeGreaterThan(0);
  });

  it('the neighbour does not wait for a measurement it is not beside', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'mq-schedule-test-'));
    folders.push(folder);
    const schedule = new Schedule(folder);
    // The lab shown measures; nothing else runs: alone at once.
    const referee = setInterval(() => arbitrate(schedule, 'A', undefined), 5);
    try {
      const waited = await untilMayRun(schedule, 'A', true);
      expect(waited).toBeLessThan(1000);
      checkDone(schedule, 'A');
    } finally {
      clearInterval(referee);
    }
  });
});
