/**
 * Every deliberately wrong variant (checker/variants/) fails its check, and for the flaw it was written to show:
 * a check that a wrong implementation passes is a bug in the checker.
 *
 * Four at a time, beside the other tests: a wrong variant must fail however busy the machine is (the checker
 * promises it on a laptop in a video call), and most of their checks wait on a hang limit, not a core. One after
 * the other they took twenty minutes. The reference solutions are graded alone, in integrity.test.ts.
 *
 * Each variant's spec runs in a fresh process of its own, as `npm run check` runs it, but under one of a few
 * long-lived vitest runners (checker/spec-batch.ts) rather than a vitest start-up each: the same checks, limits and
 * stops, minus ~0.6 s of CPU per variant. A variant that hangs is stopped as the grader stops it, runner and all.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { checkLab } from '../checker/grade.ts';
import { SpecBatch } from '../checker/spec-batch.ts';
import { loadVariants, materialise, removeVariant } from '../checker/variants.ts';
import { listLabs } from '../kit/labs.ts';

const labs = listLabs();
// The slow ones first: four run at a time, and one started last would be the file's tail.
const variants = (await loadVariants()).sort((a, b) => Number(b.slow ?? false) - Number(a.slow ?? false));
const batch = new SpecBatch();
afterAll(() => batch.close());

describe.concurrent('wrong variants', () => {
  it.each(variants)('$lab: $name fails for its flaw', { timeout: 180_000 }, async (variant) => {
    const lab = labs.find((l) => l.name === variant.lab);
    expect(lab, `checker/variants: no lab ${variant.lab}`).toBeDefined();
    const track = materialise(variant);
    try {
      // Only the checks written for its flaw (the full spec holds them, so it fails too, minutes later); types
      // only when those checks include "NN compiles" (seconds of compiler per variant otherwise).
      const types = new RegExp(variant.checks).test(`${lab!.id} compiles`);
      const verdict = await checkLab(lab!, track, {}, variant.checks, { types, runSpec: batch.runSpec });
      expect(verdict.total, `${variant.name}: checks '${variant.checks}' must select some`).toBeGreaterThan(
        0,
      );
      expect(verdict.verdict, `${variant.name} (${variant.description}) must fail`).toBe('fail');
      const failures = verdict.checks.filter((c) => c.status === 'failed');
      const named = failures.some((c) => variant.flaw.test(`${c.title} ${c.message ?? ''}`));
      expect(named, `a failing check must name the flaw ${variant.flaw}; got: ${verdict.reason}`).toBe(true);
    } finally {
      removeVariant(track);
    }
  });
});
