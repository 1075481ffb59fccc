/**
 * The real grader and the real demo process, kept apart from kit.ts so tests that inject fakes never load them.
 */
import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { checkLab } from '../../checker/grade.ts';
import { UserError } from '../../mini-queue/errors.ts';
import type { Track } from '../../mini-queue/parts.ts';
import { resolveRedisUrl } from '../../mini-queue/redis/resolve.ts';
import type { CheckFn, DemoFn } from './kit.ts';

/**
 * Grades with checker/grade.ts. Redis is resolved first, once, as `npm run check` does: if a private Redis has
 * to be started, it is started here, REDIS_URL points every spec process (and every demo) at it, and it stops
 * when the CLI exits.
 */
export const realCheck: CheckFn = async (lab, track) => {
  await resolveRedisUrl();
  // Ctrl-C reaches the grader's vitest process too (same process group) and stops it; we survive it, so the
  // menu or the watcher carries on, and the cut-short run is reported as such instead of recorded as a verdict.
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
  };
  process.on('SIGINT', onInterrupt);
  try {
    const verdict = await checkLab(lab, track);
    if (interrupted) throw new UserError('check interrupted (Ctrl-C): nothing recorded');
    return verdict;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
};

/** tsx's loader, by absolute URL, so a demo starts the same whatever the working directory is. */
const TSX = import.meta.resolve('tsx');

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
