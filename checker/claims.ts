/**
 * The claim → check matrix: every guarantee a lab's README makes maps to the checks that fail when it is broken,
 * and to the wrong variants that prove those checks do fail. One file per lab in checker/claims/ (`NN-name.ts`,
 * default export `Claim[]`), beside the specs and variants it names. test/claims.test.ts verifies the matrix
 * statically (fast, in `npm test`); test/integrity.test.ts runs the variants.
 *
 *   README "What to build" row / quoted sentence ──▶ check titles in checker/specs/NN-name.spec.ts
 *                                                └──▶ variants in checker/variants/NN-name.ts (each must fail)
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../kit/todos.ts';
import type { Variant } from './variants.ts';

export interface Claim {
  /** A row of the README's "What to build" table, by its TODO id (`00.3`): the row is the claim. */
  todo?: string;
  /** Or words of the README, quoted (case and white space do not matter), that state the guarantee. */
  quote?: string;
  /** Matches the titles of the spec's checks that fail when the claim is broken (at least one). */
  checks: RegExp;
  /** The variants (by name) that break the claim; each must fail one of `checks` in the integrity test. */
  variants: string[];
}

/** Every lab's claims, by lab name, from checker/claims/. */
export async function loadClaims(): Promise<Map<string, Claim[]>> {
  const folder = join(REPO_ROOT, 'checker', 'claims');
  const all = new Map<string, Claim[]>();
  if (!existsSync(folder)) return all;
  for (const file of readdirSync(folder)
    .filter((f) => /^\d\d-[a-z0-9-]+\.ts$/.test(f))
    .sort()) {
    const module = (await import(pathToFileURL(join(folder, file)).href)) as { default: Claim[] };
    all.set(file.replace(/\.ts$/, ''), module.default);
  }
  return all;
}

/** The titles of a spec's checks (`it('…')`, `it.each(…)('…')`), read from its source. */
export function checkTitles(specSource: string): string[] {
  const titles: string[] = [];
  for (const match of specSource.matchAll(
    /\bit(?:\.each\([^)]*\))?\(\s*(['"`])((?:\\.|(?!\1)[\s\S])*?)\1/g,
  )) {
    titles.push(match[2]!);
  }
  return titles;
}

/** The TODO ids of the README's "What to build" table, in order. */
export function buildRows(readme: string): string[] {
  const section = /^## What to build\s*$([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(readme)?.[1] ?? '';
  return [...section.matchAll(/^\|\s*(\d\d\.\d+)\s*\|/gm)].map((m) => m[1]!);
}

const squash = (text: string) => text.replace(/[`*_]/g, '').replace(/\s+/g, ' ').trim().toLowerCase();

/** What is wrong with one lab's matrix, one line each; empty when it holds. */
export function claimProblems(input: {
  lab: string;
  claims: Claim[];
  readme: string;
  specSource: string;
  variants: Variant[];
}): string[] {
  const { lab, claims, readme, specSource, variants } = input;
  const problems: string[] = [];
  const titles = checkTitles(specSource);
  const names = new Set(variants.map((v) => v.name));
  if (claims.length === 0) problems.push(`${lab}: no claims (checker/claims/${lab}.ts)`);
  if (variants.length === 0) problems.push(`${lab}: no wrong variants (checker/variants/${lab}.ts)`);
  for (const row of buildRows(readme)) {
    if (!claims.some((c) => c.todo === row))
      problems.push(`${lab}: the "What to build" row ${row} has no claim`);
  }
  for (const [i, claim] of claims.entries()) {
    const label = `${lab} claim ${claim.todo ?? `"${claim.quote?.slice(0, 50)}"`}`;
    if (!claim.todo && !claim.quote)
      problems.push(`${lab} claim #${i + 1}: names no TODO row and quotes nothing`);
    if (claim.todo && !buildRows(readme).includes(claim.todo))
      problems.push(`${label}: no "What to build" row ${claim.todo} in the README`);
    if (claim.quote && !squash(readme).includes(squash(claim.quote)))
      problems.push(`${label}: the README does not say this (any more)`);
    if (!titles.some((t) => claim.checks.test(t)))
      problems.push(`${label}: no check title matches ${claim.checks}`);
    if (claim.variants.length === 0) problems.push(`${label}: no variant proves its checks fail`);
    for (const name of claim.variants) {
      if (!names.has(name)) problems.push(`${label}: no variant named ${name}`);
    }
  }
  for (const variant of variants) {
    if (!claims.some((c) => c.variants.includes(variant.name)))
      problems.push(`${lab}: variant ${variant.name} breaks no claim (add it to a claim, or drop it)`);
  }
  return problems;
}
