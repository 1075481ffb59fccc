/**
 * One vitest that runs lab specs one after another, each against a track of its own: the process that
 * checker/spec-batch.ts starts, so that grading a hundred and seventy wrong variants pays for a hundred and seventy
 * spec processes but not for as many vitest start-ups (config, Vite, reporters: ~0.6 s of CPU each).
 *
 * Each spec still runs in a fresh process of its own (vitest's `isolate`, the default: a new fork per test file),
 * so one track's threads, children, timers or crash never meet the next one's modules. The track's files are
 * dropped from Vite's transform cache before its run: a folder written again holds what is on disk now.
 *
 *   stdin, one JSON line per job: { spec, track, only?, env }   (env: MQ_TRACK, the stream file, ...)
 *   fd 3, one JSON line after each: { done: true }              (its checks are in the stream file by then)
 *
 * Started as `node checker/spec-runner-entry.mjs LIMIT_S` in the kit's root, LIMIT_S the checks' time limit. It
 * ends when stdin does; the grader kills its process group to stop a job that hung (the next job gets a new
 * runner).
 */
import { createWriteStream, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createVitest } from 'vitest/node';
import StreamReporter from './stream-reporter.ts';

export interface SpecJob {
  /** Absolute path of the spec file. */
  spec: string;
  /** The track folder its parts come from, under the kit's root. */
  track: string;
  /** Only the checks whose names match (vitest's -t). */
  only?: string | undefined;
  /** The spec process's environment on top of this one's (MQ_TRACK, MQ_CHECK_STREAM, ...). */
  env: Record<string, string>;
}

const root = process.cwd();
const limitMs = Number(process.argv[2]) * 1000;
const replies = createWriteStream('', { fd: 3 });

// What vitest's CLI sets before it starts (its prepareVitest), so a spec sees the environment `vitest run` gives
// it: NODE_ENV would otherwise be Vite's 'development', and it keys vitest's module cache on disk too.
process.env.TEST = 'true';
process.env.VITEST = 'true';
process.env.NODE_ENV ??= 'test';

const vitest = await createVitest('test', {
  config: join(root, 'checker', 'vitest.config.ts'),
  root,
  watch: false,
  reporters: [new StreamReporter()],
  testTimeout: limitMs,
  hookTimeout: limitMs,
});

/** What the last job's keys were before it set them: put back before the next job sets its own. */
let replaced: Record<string, string | undefined> = {};

async function run(job: SpecJob): Promise<void> {
  // Forks take this process's environment when a run starts (vitest's pool): the job's keys, and no other job's.
  for (const [key, value] of Object.entries(replaced)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  replaced = Object.fromEntries(Object.keys(job.env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, job.env);
  for (const file of filesUnder(join(root, job.track))) vitest.invalidateFile(file);
  const only = job.only ? { testNamePattern: new RegExp(job.only) } : undefined;
  const spec = vitest.getRootProject().createSpecification(job.spec, only);
  try {
    await vitest.runTestSpecifications([spec]);
  } catch (error) {
    // Said on stderr, which the grader keeps as the job's output: a run with no check reports its first line.
    console.error(`Error: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function filesUnder(folder: string): string[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

// One job at a time, in the order given: a job's checks are in its stream file before its reply.
let jobs = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.trim()) return;
  jobs = jobs.then(async () => {
    await run(JSON.parse(line) as SpecJob);
    replies.write(`${JSON.stringify({ done: true })}\n`);
  });
});
lines.on('close', () => {
  void jobs.then(async () => {
    await vitest.close();
    process.exit(0);
  });
});
