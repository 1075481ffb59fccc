/**
 * A mini-queue worker in a process of its own, started the way you would start it in production
 * (`npx tsx mini-queue worker --pool prefork --queue Q`), for demos that must show the heavy work leaving the
 * web app's process: lab 06.
 *
 *   this process ──spawn(node --import tsx mini-queue/cli.ts worker ...)──▶ worker pid ──▶ pool lanes
 *                ◀── "worker <pid>: pool prefork x1 on queue ..." = ready
 *   stop(): SIGTERM (warm shutdown: it finishes what it holds), SIGKILL if it is still there after graceMs.
 *
 * We spawn node with `--import tsx` ourselves rather than `npx tsx`: npx would put itself between us and the
 * worker, and the pid we hold would not be the worker's. The worker is killed too if this process exits first,
 * and its prefork children leave when it goes (their IPC channel closes): no orphans either way.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import type { Track } from '../parts.ts';
import type { PoolKind } from '../pool.ts';

const CLI = fileURLToPath(new URL('../cli.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** How long the worker gets to print its ready line: generous, since a busy machine slows its start-up too. */
const READY_TIMEOUT_MS = 30_000;

export interface WorkerProcessOptions {
  queue: string;
  pool: PoolKind;
  concurrency: number;
  /** Where the pool comes from. @default 'solutions' */
  track?: Track;
}

export interface WorkerProcess {
  readonly pid: number;
  /** Warm shutdown, SIGKILL after `graceMs`; resolves with its exit code (null when it had to be killed). */
  stop(graceMs?: number): Promise<number | null>;
}

/** Starts `mini-queue worker` in its own process and resolves once it says it consumes. */
export async function spawnWorker(options: WorkerProcessOptions): Promise<WorkerProcess> {
  const args = [
    '--import',
    'tsx',
    CLI,
    'worker',
    '--pool',
    options.pool,
    '--concurrency',
    String(options.concurrency),
    '--queue',
    options.queue,
    '--track',
    options.track ?? 'solutions',
  ];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // If we go first (an error, Ctrl-C), the worker goes too.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));

  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      if (/^worker \d+: pool /m.test(chunk.toString())) {
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    void exited.then((code) =>
      reject(
        new UserError(
          `the worker process exited (code ${code}) before it was ready: ${lastLine(log) || 'no output'}`,
        ),
      ),
    );
    child.once('error', (error) =>
      reject(new UserError(`could not start a worker process: ${error.message}`)),
    );
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new UserError(
                `the worker process was not ready within ${READY_TIMEOUT_MS} ms: ${lastLine(log)}`,
              ),
            ),
          READY_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  } finally {
    clearTimeout(timer);
  }

  let stopping: Promise<number | null> | undefined;
  return {
    pid: child.pid!,
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
        child.kill('SIGTERM');
        const grace = setTimeout(() => child.kill('SIGKILL'), graceMs);
        try {
          return await exited;
        } finally {
          clearTimeout(grace);
        }
      })();
      return stopping;
    },
  };
}

function lastLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .at(-1) ?? ''
  );
}
