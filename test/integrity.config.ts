import { defineConfig } from 'vitest/config';

/**
 * The kit's integrity test runs alone, after the other tests: it grades every lab, and the parallel labs'
 * checks measure speedups, which must never share the machine with other tests (DESIGN.md).
 */
export default defineConfig({
  test: {
    include: ['test/integrity.test.ts'],
    globalSetup: ['kit/redis-setup.ts'],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 30_000,
  },
});
