import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('../', import.meta.url));

/** The lab specs: run only by `npm run check`, one file at a time, against the track in MQ_TRACK. */
export default defineConfig({
  test: {
    include: ['checker/specs/**/*.spec.ts'],
    globalSetup: ['kit/redis-setup.ts'],
    // Before each spec file, in its module graph: the Redis chaos of `--repeat`, and the turn of a lab started
    // ahead or graded beside another (checker/spec-setup.ts).
    setupFiles: ['checker/spec-setup.ts'],
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // A spec's tests run in order; a failing TODO should not hide the later ones.
    sequence: { concurrent: false },
    // Every check starts a vitest process, which transforms the spec and the chassis it imports: kept on disk
    // between processes (keyed by each file's content, so an edited lab file is transformed anew), it costs
    // about 0.6 s of CPU less per process, on each of the 7 labs of a check and the 157 wrong variants of CI.
    // One folder per kit: vitest empties it when the lockfile it finds differs, so two copies of the kit that
    // share one node_modules (git worktrees) must not share it.
    experimental: {
      fsModuleCache: true,
      fsModuleCachePath: join(
        tmpdir(),
        `mq-vitest-cache-${createHash('sha1').update(root).digest('hex').slice(0, 8)}`,
      ),
    },
  },
});
