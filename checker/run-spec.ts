import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { CheckResult, SpecRun, Timeline } from '../kit/report.ts';
import { REPO_ROOT } from '../kit/todos.ts';
import type { Span } from '../kit/ui/timeline.ts';
import { todoIn } from '../mini-queue/errors.ts';
import type { Track } from '../mini-queue/parts.ts';

interface VitestJson {
  testResults?: Array<{
    message?: string;
    assertionResults?: Array<{ title: string; fullName: string; status: string; failureMessages?: string[] }>;
  }>;
}

// vitest's CLI entry, found through its package.json (its `exports` do not list the bin file).
const VITEST = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

/**
 * Runs one lab's spec file in its own vitest process, against one track, and reads the JSON report. A process
 * of its own keeps one lab's hung thread or crash out of the others, and keeps timing runs alone.
 */
/** A spec that runs longer than this is stopped: a lab whose code blocks the event loop must not hang the checker. */
export const SPEC_TIME_LIMIT_MS = 180_000;

/**
 * Spec process groups still running. Detached (so a time-out can kill a whole group), they miss the terminal's
 * Ctrl-C: while any runs we listen for it, stop them, and exit unless the program has its own handler (the lab
 * menu goes back to its menu).
 */
const running = new Set<number>();
function onSignal(signal: NodeJS.Signals): void {
  for (const pid of running) killGroup(pid);
  if (process.listenerCount(signal) === 1) process.exit(130);
}
function watchGroup(pid: number): void {
  if (running.size === 0) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('exit', killAll);
  }
  running.add(pid);
}
function unwatchGroup(pid: number): void {
  running.delete(pid);
  if (running.size === 0) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killAll);
  }
}
function killAll(): void {
  for (const pid of running) killGroup(pid);
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {}
}

export async function runSpec(
  spec: string,
  track: Track,
  env: Record<string, string> = {},
  only?: string,
): Promise<SpecRun> {
  const dir = mkdtempSync(join(tmpdir(), 'mq-check-'));
  const report = join(dir, 'report.json');
  const measurements = join(dir, 'measurements.jsonl');
  const started = Date.now();
  let timedOut = false;
  const args = [
    VITEST,
    'run',
    '--config',
    'checker/vitest.config.ts',
    spec,
    '--reporter=json',
    `--outputFile=${report}`,
    // Only the checks whose names match (vitest's -t): the kit's own test runs a wrong variant against the checks
    // written for its flaw, not the whole spec.
    ...(only ? ['-t', only] : []),
  ];
  const output = await new Promise<string>((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env, MQ_TRACK: track, MQ_CHECK_MEASUREMENTS: measurements, FORCE_COLOR: '0' },
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
    // Past the limit, the whole process group goes: vitest's workers and any thread or child a lab started.
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid!);
    }, SPEC_TIME_LIMIT_MS);
    watchGroup(child.pid!);
    child.on('close', () => {
      unwatchGroup(child.pid!);
      clearTimeout(timer);
      resolve(text);
    });
  });
  const seconds = (Date.now() - started) / 1000;
  try {
    let parsed: VitestJson;
    try {
      parsed = JSON.parse(readFileSync(report, 'utf8')) as VitestJson;
    } catch {
      const error = timedOut
        ? `the spec took longer than ${SPEC_TIME_LIMIT_MS / 1000} s and was stopped: is something blocking forever (a loop that never yields, a task that never settles)?`
        : firstMeaningfulLine(output);
      return { checks: [], measurements: [], timelines: [], error, seconds };
    }
    const checks: CheckResult[] = [];
    for (const file of parsed.testResults ?? []) {
      for (const test of file.assertionResults ?? []) {
        const failure = test.failureMessages?.[0];
        const todo = failure ? todoIn(failure) : undefined;
        checks.push({
          title: test.title,
          status: test.status === 'passed' ? 'passed' : test.status === 'failed' ? 'failed' : 'skipped',
          ...(failure ? { message: firstLine(failure) } : {}),
          ...(todo ? { todo } : {}),
        });
      }
      if ((file.assertionResults ?? []).length === 0 && file.message) {
        const todo = todoIn(file.message);
        checks.push({
          title: 'the spec loads',
          status: 'failed',
          message: firstLine(file.message),
          ...(todo ? { todo } : {}),
        });
      }
    }
    return { checks, ...readMeasurements(measurements), seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The spec's figures and timelines, one JSON object a line, in the order it recorded them. */
function readMeasurements(file: string): Pick<SpecRun, 'measurements' | 'timelines'> {
  const found: Pick<SpecRun, 'measurements' | 'timelines'> = { measurements: [], timelines: [] };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return found;
  }
  for (const line of text.split('\n').filter(Boolean)) {
    const entry = JSON.parse(line) as SpecRun['measurements'][number] | { timeline: string; spans: Span[] };
    if ('timeline' in entry) found.timelines.push({ label: entry.timeline, spans: entry.spans });
    else found.measurements.push(entry);
  }
  return found;
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim() ?? ''
  );
}

/** The line of a crashed run worth showing: an error, not vitest's banner. */
function firstMeaningfulLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim());
  return lines.find((l) => /error|cannot|no redis/i.test(l)) ?? lines.find(Boolean) ?? 'the spec did not run';
}

export type { CheckResult, SpecRun, Timeline };
