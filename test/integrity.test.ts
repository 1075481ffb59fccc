/**
 * The kit checks itself (rustlings' `dev check`, plus a third direction): every starter has TODOs and fails its
 * check naming one; every solution has none and passes; every lab has deliberately wrong variants (each shown
 * to fail for its flaw in variants.test.ts). Labs are found by folder, so a new lab is covered without editing
 * this file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLab, type LabVerdict } from '../checker/grade.ts';
import { checkLabs } from '../checker/run-labs.ts';
import { loadVariants } from '../checker/variants.ts';
import { type LabInfo, listLabs } from '../kit/labs.ts';
import { findTodos, listFiles, REPO_ROOT } from '../kit/todos.ts';
import type { Track } from '../mini-queue/parts.ts';

const labs = listLabs();
const variants = await loadVariants();

/**
 * The labs of a track graded as `npm run check` grades them (checker/run-labs.ts: the next lab started while one
 * runs, one compiler program), once for this file, from the first lab a test asks for (`-t 03-` grades 03 to 06,
 * not all): the pristine starters first, then the solutions, so the solutions' checks do not share the machine
 * with the starters'. Each lab's verdict as soon as it is in.
 */
const runs = new Map<Track, Map<string, Promise<LabVerdict>>>();
function gradedRun(
  track: Track,
  from: LabInfo,
  after: Promise<unknown> = Promise.resolve(),
): Map<string, Promise<LabVerdict>> {
  let run = runs.get(track);
  if (run) return run;
  const graded = labs.slice(labs.indexOf(from));
  const settle = new Map<string, (verdict: LabVerdict) => void>();
  const fail = new Map<string, (error: unknown) => void>();
  run = new Map(
    graded.map((lab) => [
      lab.name,
      new Promise<LabVerdict>((resolve, reject) => {
        settle.set(lab.name, resolve);
        fail.set(lab.name, reject);
      }),
    ]),
  );
  // A failed run rejects every lab's verdict; one no test awaits (a test filtered out) is not an unhandled one.
  for (const verdict of run.values()) verdict.catch(() => {});
  runs.set(track, run);
  after
    .then(() => checkLabs(graded, track, { onLabDone: (lab, verdict) => settle.get(lab.name)!(verdict) }))
    .catch((error: unknown) => {
      for (const reject of fail.values()) reject(error);
    });
  return run;
}
const starterVerdict = (lab: LabInfo) => verdictOf(gradedRun('labs', lab), lab, 'labs');
const solutionVerdict = (lab: LabInfo) =>
  verdictOf(
    // After every starter this file grades.
    gradedRun('solutions', lab, Promise.allSettled([...gradedRun('labs', lab).values()])),
    lab,
    'solutions',
  );
/** The lab's verdict in the run, or (a lab before the run's first) graded on its own. */
function verdictOf(run: Map<string, Promise<LabVerdict>>, lab: LabInfo, track: Track): Promise<LabVerdict> {
  return run.get(lab.name) ?? checkLab(lab, track, {}, undefined, { alongside: labs.map((l) => l.name) });
}
/** Files that belong to the lab only: its demo, README and hints. */
const LAB_ONLY = new Set(['index.ts', 'README.md', 'hints.md']);

function partFiles(folder: string): string[] {
  return listFiles(folder)
    .map((f) => relative(folder, f))
    .filter((f) => !LAB_ONLY.has(f))
    .sort();
}

describe('kit integrity', () => {
  it('has the labs the contract names, in order', () => {
    const names = labs.map((l) => l.name);
    expect(names.slice(0, 1)).toEqual(['00-broker']);
    expect(names).toEqual([...names].sort());
  });

  describe.each(labs)('$name', (lab) => {
    const solution = join(REPO_ROOT, 'solutions', lab.name);

    it('has a README, hints for every TODO, a demo, a spec and a solution', () => {
      for (const file of ['README.md', 'hints.md', 'index.ts']) {
        expect(existsSync(join(lab.folder, file)), `labs/${lab.name}/${file}`).toBe(true);
      }
      expect(lab.spec, `checker/specs/${lab.name}.spec.ts`).toBeDefined();
      expect(existsSync(solution), `solutions/${lab.name}`).toBe(true);
    });

    it('starter files have TODO markers, each with hints; solutions have none', async () => {
      const todos = findTodos(lab.folder);
      expect(todos.length, 'at least one TODO(NN.k) marker').toBeGreaterThan(0);
      for (const todo of todos) expect(todo.id.slice(0, 2), todo.where).toBe(lab.id);
      const { readHints } = await import('../kit/hints.ts');
      const hints = readHints(lab.folder);
      for (const todo of todos)
        expect(hints.get(todo.id)?.length ?? 0, `hints.md ## ${todo.id}`).toBeGreaterThan(0);
      for (const file of listFiles(solution)) {
        expect(readFileSync(file, 'utf8'), relative(REPO_ROOT, file)).not.toMatch(/TODO\(\d\d\.\d+\)/);
      }
    });

    it('lab and solution hold the same part files', () => {
      expect(partFiles(lab.folder)).toEqual(partFiles(solution));
    });

    it('the pristine starter fails its check, naming a TODO', { timeout: 180_000 }, async () => {
      const verdict = await starterVerdict(lab);
      expect(verdict.verdict).toBe('fail');
      expect(verdict.todo, `reason: ${verdict.reason}`).toMatch(new RegExp(`^${lab.id}\\.\\d+$`));
    });

    // Beside the other tests: no verdict rests on a wall-clock speedup, and `npm run check:soundness` showed every
    // solution passing 10 of 10 at load 5 to 20 on 2 cores (2026-11-29). Up to two retries all the same, for a
    // machine busier than that, each grading the lab on its own; a wrong variant (variants.test.ts) gets none.
    it('the solution passes its check', { retry: 2, timeout: 300_000 }, async ({ task }) => {
      const verdict =
        (task.result?.retryCount ?? 0) === 0
          ? await solutionVerdict(lab)
          : await checkLab(lab, 'solutions', {}, undefined, { alongside: labs.map((l) => l.name) });
      expect(verdict.reason ?? '', 'no failing check').toBe('');
      expect(verdict.verdict).toBe('pass');
      expect(verdict.total).toBeGreaterThan(0);
    });

    const mine = variants.filter((v) => v.lab === lab.name);
    it('has wrong variants: a check no wrong code is shown to fail proves nothing', () => {
      expect(
        mine.map((v) => v.name),
        `checker/variants/${lab.name}.ts`,
      ).not.toEqual([]);
    });
  });
});
