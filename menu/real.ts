/**
 * The real grader and the real demo process, kept apart from kit.ts so tests that inject fakes never load them.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { CheckEvent, CheckReport } from '../kit/report.ts';
import { UserError } from '../mini-queue/errors.ts';
import type { Track } from '../mini-queue/parts.ts';
import { resolveRedisUrl } from '../mini-queue/redis/resolve.ts';
import type { CheckFn, DemoFn } from './kit.ts';

/** tsx's loader, by absolute URL, so the grader and a demo start the same whatever the working directory is. */
const TSX = import.meta.resolve('tsx');

/**
 * Grades by running the grader as its own process, exactly as `npm run check -- NN --json` does, and reads its
 * JSON report: the menu never loads the grader's code, and what it shows is what the command line would say.
 * Redis is resolved first, once: if a private Redis has to be started, it is started here and REDIS_URL points
 * the grader (and every demo) at it, and it stops when the CLI exits.
 */
export const realCheck: CheckFn = async (lab, track, onEvent) => {
  await resolveRedisUrl();
  const root = dirname(dirname(lab.folder));
  const args = [
    '--import',
    TSX,
    join(root, 'checker', 'index.ts'),
    lab.id,
    ...(track === 'solutions' ? ['--solution'] : []),
    '--json',
    // Each check as a JSON line on stderr, as it finishes: the menu shows them live.
    '--events',
  ];
  // Ctrl-C reaches the grader too (same process group) and stops it; we survive it, so the menu or the watcher
  // carries on, and the cut-short run is reported as such instead of recorded as a verdict.
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
  };
  process.on('SIGINT', onInterrupt);
  try {
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
      });
      // stderr: event lines for onEvent, anything else (a warning, a crash) passed through as it was.
      createInterface({ input: child.stderr }).on('line', (line) => {
        const event = eventOf(line);
        if (event) onEvent?.(event);
        else process.stderr.write(`${line}\n`);
      });
      child.on('error', reject);
      child.on('close', (exitCode) => resolve({ code: exitCode, stdout: out }));
    });
    if (interrupted) throw new UserError('check interrupted (Ctrl-C): nothing recorded');
    let report: CheckReport;
    try {
      report = JSON.parse(stdout) as CheckReport;
    } catch {
      throw new UserError(
        `the grader stopped without a report (exit code ${code}): run \`npm run check -- ${lab.id}\` to see why`,
      );
    }
    const verdict = report.labs[0];
    if (!verdict) throw new UserError(`the grader reported nothing for lab ${lab.id}`);
    return verdict;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
};

/** A line of the grader's --events stream, or undefined for any other line. */
function eventOf(line: string): CheckEvent | undefined {
  if (!line.startsWith('{"lab":')) return undefined;
  try {
    const event = JSON.parse(line) as CheckEvent & { lab: string };
    return typeof event.type === 'string' ? event : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `labs/NN-name/index.ts [--solution]` as its own process with the terminal attached, so its progress bar,
 * tables and timeline draw live, exactly as when the attendee runs it by hand.
 * While it runs we ignore SIGINT: Ctrl-C stops the demo (the terminal sends it to both) and brings the menu back
 * instead of ending the whole session.
 */
export const realDemo: DemoFn = (lab, track: Track) =>
  new Promise((resolve, reject) => {
    const args = [
      '--import',
      TSX,
      `${lab.folder}/index.ts`,
      ...(track === 'solutions' ? ['--solution'] : []),
    ];
    const child = spawn(process.execPath, args, { stdio: 'inherit', cwd: dirname(dirname(lab.folder)) });
    const ignore = () => {};
    process.on('SIGINT', ignore);
    child.on('error', (error) => {
      process.off('SIGINT', ignore);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      resolve(code ?? (signal === 'SIGINT' ? 130 : 1));
    });
  });
