import { defineConfig } from 'vitest/config';

/** The lab specs: run only by `npm run check`, one file at a time, against the track in MQ_TRACK. */
export default defineConfig({
  test: {
    include: ['checker/specs/**/*.spec.ts'],
    globalSetup: ['kit/redis-setup.ts'],
    // Before each spec file, in its module graph: the Redis chaos of `--repeat` (checker/spec-setup.ts).
    setupFiles: ['checker/spec-setup.ts'],
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // A spec's tests run in order; a failing TODO should not hide the later ones.
    sequence: { concurrent: false },
  },
});
