import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../kit/todos.ts';
import { type Track, trackFolder } from '../mini-queue/parts.ts';

/**
 * Deliberately wrong implementations: the reference with one flaw each. The checker must fail every one of them,
 * and for the right reason (`flaw` must match a failing check's title or message). A check that a wrong
 * implementation passes is a bug in the checker.
 *
 * Kept as patches on the solutions rather than copies, so each variant shows exactly its flaw and follows the
 * reference when the reference changes.
 */
export interface Variant {
  name: string;
  lab: string;
  file: string;
  find: string;
  replace: string;
  /** What is wrong, as a person would say it. */
  description: string;
  /** Must match the title or message of a failing check. */
  flaw: RegExp;
  /**
   * The checks written for this flaw (a pattern on check names, vitest's -t): the kit's own test runs only
   * these, so proving every variant wrong stays fast. The full spec fails too: it holds these checks.
   */
  checks: string;
  /**
   * Its checks take long by design (they wait out a hang limit, a kill drill, a serial batch): the kit's test
   * starts these first, so that none of them is the last to end (checker's own CI time).
   */
  slow?: true;
}

/**
 * Every variant, from one file per lab in checker/variants/ (`NN-name.ts`, default export `Variant[]`), so each
 * lab's wrong versions live beside nothing else.
 */
export async function loadVariants(): Promise<Variant[]> {
  const folder = join(REPO_ROOT, 'checker', 'variants');
  const all: Variant[] = [];
  for (const file of readdirSync(folder)
    .filter((f) => /^\d\d-[a-z0-9-]+\.ts$/.test(f))
    .sort()) {
    const module = (await import(pathToFileURL(join(folder, file)).href)) as { default: Variant[] };
    all.push(...module.default);
  }
  return all;
}

/**
 * Writes `.variant-<name>/<lab>/` (the solution with the flaw applied) and returns it as a track: a folder at the
 * repo root laid out like `solutions/`, which the chassis loads parts from like any other.
 */
export function materialise(variant: Variant): Track {
  const track = trackFolder(`.variant-${variant.name}`);
  const target = join(REPO_ROOT, track, variant.lab);
  rmSync(join(REPO_ROOT, track), { recursive: true, force: true });
  cpSync(join(REPO_ROOT, 'solutions', variant.lab), target, { recursive: true });
  const file = join(target, variant.file);
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (!text.includes(variant.find)) {
    throw new Error(
      `variant ${variant.name}: '${variant.find}' is not in solutions/${variant.lab}/${variant.file}`,
    );
  }
  writeFileSync(file, text.replace(variant.find, variant.replace));
  return track;
}

export function removeVariant(track: Track): void {
  rmSync(join(REPO_ROOT, track), { recursive: true, force: true });
}
