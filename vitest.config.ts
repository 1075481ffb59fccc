import { defineConfig } from 'vitest/config';

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
  },
});
