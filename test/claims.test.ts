/**
 * The claim → check matrix (checker/claims.ts) holds for every lab: each "What to build" row and each quoted
 * README guarantee maps to checks that exist and to wrong variants that exist; every variant breaks some claim;
 * no lab is without claims or variants. Static and fast; test/integrity.test.ts runs the variants themselves.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRows, checkTitles, claimProblems, loadClaims } from '../checker/claims.ts';
import { loadVariants, type Variant } from '../checker/variants.ts';
import { listLabs } from '../kit/labs.ts';
import { REPO_ROOT } from '../kit/todos.ts';

const labs = listLabs();
const claims = await loadClaims();
const variants = await loadVariants();

describe('claim → check matrix', () => {
  it.each(labs.map((l) => l.name))('%s', (lab) => {
    const problems = claimProblems({
      lab,
      claims: claims.get(lab) ?? [],
      readme: readFileSync(join(REPO_ROOT, 'labs', lab, 'README.md'), 'utf8'),
      specSource: readFileSync(join(REPO_ROOT, 'checker', 'specs', `${lab}.spec.ts`), 'utf8'),
      variants: variants.filter((v) => v.lab === lab),
    });
    expect(problems.join('\n')).toBe('');
  });

  it('fails a matrix with holes (so the test above cannot pass vacuously)', () => {
    const readme =
      '# Lab\n\n## What to build\n\n| TODO | what |\n| --- | --- |\n| 99.1 | push |\n| 99.2 | pop |\n\n## Run\nIt keeps results a day.\n';
    const spec = "it('99.1 pushes', () => {});\nit.each([1])('99.2 pops %s', () => {});";
    const variant = { name: 'v-a', lab: '99-x' } as Variant;
    const orphan = { name: 'v-orphan', lab: '99-x' } as Variant;
    expect(buildRows(readme)).toEqual(['99.1', '99.2']);
    expect(checkTitles(spec)).toEqual(['99.1 pushes', '99.2 pops %s']);
    const problems = claimProblems({
      lab: '99-x',
      claims: [
        { todo: '99.1', checks: /^99\.1/, variants: ['v-a'] },
        { quote: 'keeps results forever', checks: /^99\.3/, variants: ['v-missing'] },
      ],
      readme,
      specSource: spec,
      variants: [variant, orphan],
    }).join('\n');
    expect(problems).toContain('row 99.2 has no claim');
    expect(problems).toContain('the README does not say this');
    expect(problems).toContain('no check title matches /^99\\.3/');
    expect(problems).toContain('no variant named v-missing');
    expect(problems).toContain('variant v-orphan breaks no claim');
    expect(
      claimProblems({ lab: '99-x', claims: [], readme, specSource: spec, variants: [] }).join('\n'),
    ).toMatch(/no claims[\s\S]*no wrong variants/);
  });
});
