import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CheckEvent, CheckResult, SpecRun, Timeline } from '../kit/report.ts';
import { reapOrphans } from '../kit/throwaway.ts';
import { REPO_ROOT } from '../kit/todos.ts';
import type { Track } from '../mini-queue/parts.ts';
import { killGroup, unwatchGroup, watchGroup } from './process-groups.ts';
import { RunState, specRunOf, Tail } from './spec-state.ts';
import { checkTimeLimitS, specTimeLimitMs } from './time-limits.ts';

// vitest's CLI entry, found through its package.json (its `exports` do not list the bin file).
const VITEST = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const REPORTER = fileURLToPath(new URL('./stream-reporter.ts', import.meta.url));

export type SpecEvent = CheckEvent;

export interface RunSpecOptions {
  /** Only the checks whose names match (vitest's -t). */
  only?: string | undefined;
  onEvent?: (event: SpecEvent) => void;
  /** The kit root holding the track folder. @default REPO_ROOT */
  root?: string;
  /** Stops the run (the grader found a file that does not parse: every check would fail on it). */
  signal?: AbortSignal;
  /**
   * The spec's turn: its process starts now, boots vitest, loads the spec and collects its checks, then waits
   * (checker/spec-setup.ts) until this resolves before any hook or check of the spec runs. Its events, time
   * limits and seconds start with its turn. `npm run check` starts the next lab this way while one lab runs, so
   * the seconds of a vitest start-up are paid beside a lab's first checks rather than between two labs.
   */
  turn?: Promise<void>;
}

/**
 * Runs one lab's spec file in its own vitest process, against one track. A process of its own keeps one lab's hung
 * thread or crash out of the others, and keeps timing runs alone. Checks stream in as they finish (a reporter
 * writes one JSON line each, tailed here). The first check that hangs past its time limit stops the run: the next
 * ones would most likely hang on the same code, minutes of silence for nothing.
 */
export async function runSpec(
  spec: string,
  track: Track,
  env: Record<string, string> = {},
  options: RunSpecOptions = {},
): Promise<SpecRun> {
  const root = options.root ?? REPO_ROOT;
  const lab = basename(spec).replace(/\.spec\.ts$/, '');
  const limitS = checkTimeLimitS(lab);
  const dir = mkdtempSync(join(tmpdir(), 'mq-check-'));
  const stream = join(dir, 'checks.jsonl');
  const measurements = join(dir, 'measurements.jsonl');
  const gate = join(dir, 'turn');
  let started = Date.now();
  const args = [
    VITEST,
    'run',
    '--config',
    'checker/vitest.config.ts',
    spec,
    `--reporter=${REPORTER}`,
    `--testTimeout=${limitS * 1000}`,
    `--hookTimeout=${limitS * 1000}`,
    // Only the checks whose names match (vitest's -t): the kit's own test runs a wrong variant against the checks
    // written for its flaw, not the whole spec.
    ...(options.only ? ['-t', options.only] : []),
  ];

  // Until its turn, the spec's events wait here: it only collects its checks before then.
  let held: SpecEvent[] | undefined = options.turn ? [] : undefined;
  const state = new RunState(root, track, lab, (event) =>
    held ? held.push(event) : options.onEvent?.(event),
  );
  const output = await new Promise<string>((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: {
        ...process.env,
        ...env,
        MQ_TRACK: track,
        MQ_CHECK_MEASUREMENTS: measurements,
        MQ_CHECK_STREAM: stream,
        ...(options.turn ? { MQ_CHECK_GATE: gate, MQ_CHECK_PARENT: String(process.pid) } : {}),
        FORCE_COLOR: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a time-out can stop everything it started.
      detached: true,
    });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    const tail = new Tail(stream);
    const stop = (why: 'hang' | 'backstop' | 'aborted') => {
      state.stopped ??= why;
      killGroup(child.pid!);
    };
    const poll = setInterval(() => {
      for (const event of tail.read()) state.take(event);
      if (state.hung) stop('hang');
      state.noticeSlow(limitS);
    }, 100);
    // Past the backstop, the whole process group goes: vitest's workers and any thread or child a lab started.
    let backstop: NodeJS.Timeout | undefined;
    let closed = false;
    const go = () => {
      started = Date.now();
      state.turnStarts();
      // What it said before its turn (its checks collected; or why it could not start) is told now.
      for (const event of held?.splice(0) ?? []) options.onEvent?.(event);
      held = undefined;
      if (closed) return;
      backstop = setTimeout(() => stop('backstop'), specTimeLimitMs());
      if (options.turn) writeFileSync(gate, '');
    };
    if (options.turn) options.turn.then(go, () => stop('aborted'));
    else go();
    const abort = () => stop('aborted');
    options.signal?.addEventListener('abort', abort);
    watchGroup(child.pid!);
    child.on('close', () => {
      closed = true;
      unwatchGroup(child.pid!);
      clearInterval(poll);
      clearTimeout(backstop);
      options.signal?.removeEventListener('abort', abort);
      for (const event of tail.read()) state.take(event);
      tail.close();
      // A check that hung as the spec ended (its last) may have left what it started (a child, a thread's
      // process): its group goes all the same.
      if (state.hung) stop('hang');
      resolve(text);
    });
  });
  // A spec killed mid-run (hung check, backstop) could not drop its queues: drop them now, not at the TTL.
  if (state.stopped) await reapOrphans().catch(() => {});
  // A spec that ended before its turn (it could not start) is reported on its turn.
  await options.turn?.catch(() => {});
  const seconds = (Date.now() - started) / 1000;
  try {
    return specRunOf(state, output, measurements, seconds);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export type { CheckResult, SpecRun, Timeline };
