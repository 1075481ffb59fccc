import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take half a minute or more, longest first (seconds on 2 cores at load 15, 2026-11-29: 387, 251,
 * 143, 97, 88, 84, 78, 59, 50, 40, 32, 31; canvas 53, dashboard 35-50 and amqp-broker 31 added from their own runs), started before the rest so that none of them is the last one running
 * beside idle workers. vitest puts
 * the longest first by itself only from its results cache, which a fresh clone (CI) has none of: there it starts
 * the largest files first, and the wrong variants (a small file, five minutes of four variants at a time, most of
 * them waiting on a hang limit) ran alone for the last four minutes.
 */
const LONGEST_FIRST = [
  'test/variants.test.ts',
  'test/integrity.test.ts',
  'test/crash-drill.test.ts',
  'test/learner.test.ts',
  'test/cli.test.ts',
  'test/secrets.test.ts',
  'test/launcher.test.ts',
  'test/runaway.test.ts',
  'test/pool-restarts.test.ts',
  'test/canvas.test.ts',
  'test/dashboard.test.ts',
  'test/cleanup.test.ts',
  'test/multi-process-worker.test.ts',
  'test/cluster.test.ts',
  'test/amqp-broker.test.ts',
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const at = LONGEST_FIRST.findIndex((name) => file.moduleId.endsWith(`/${name}`));
      return at < 0 ? LONGEST_FIRST.length : at;
    };
    // vitest's own order (failed first, then by its cache or by size) for every other file, and among equals.
    const sorted = await super.sort(files);
    return sorted
      .map((file, index) => ({ file, index }))
      .sort((a, b) => rank(a.file) - rank(b.file) || a.index - b.index)
      .map(({ file }) => file);
  }
}

/** The kit's own tests (`npm test`). Lab specs live in checker/specs and run through `npm run check`. */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    globalSetup: ['kit/redis-setup.ts'],
    // Most of these tests wait on processes they started (workers, checks, crash drills), not on a core: four
    // files at once, and the wrong variants four at a time (variants.test.ts).
    maxWorkers: 4,
    maxConcurrency: 4,
    testTimeout: 60_000,
    hookTimeout: 30_000,
    sequence: { sequencer: LongestFirst },
  },
});
