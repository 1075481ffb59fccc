/**
 * A lab's worker or beat in a process of its own (labs 07 and 08: their demos and checks), forked on a child
 * module that reports over IPC: `ready` once it runs, `error` when it stops on its own (a TODO not done, a script
 * that cannot run), and whatever else the lab's child tells. Killed with SIGKILL when a drill wants it, and when
 * this process exits first.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { NotImplemented, UserError } from '../mini-queue/errors.ts';
import { tsChildExecArgv } from '../mini-queue/runtime/typescript.ts';
import { REPO_ROOT } from './todos.ts';

/** How long a process gets to say it runs: a busy two-core machine starts Node and tsx in seconds, not ms. */
const READY_TIMEOUT_MS = 45_000;

/** What every lab child tells its parent; a lab's child adds its own kinds. */
export type LabChildEvent =
  | { type: 'ready' }
  /** It stops on this: a TODO not done (`todo`, `hint`), a script that cannot run. */
  | { type: 'error'; message: string; todo?: string; hint?: string };

export interface LabProcess {
  /** `worker-1`, `beat-2`, `rabbitmq-1`. */
  readonly name: string;
  readonly pid: number;
  /** Resolves once it runs; rejects with why it could not start. */
  readonly ready: Promise<void>;
  /**
   * Rejects with what stopped it on its own: a TODO not done (NotImplemented), a script that cannot run, a crash;
   * never settles otherwise. Race a wait against it.
   */
  readonly failed: Promise<never>;
  /** Whether it is still running. */
  alive(): boolean;
  /** kill -9: nothing of it runs after this, and it gives nothing back itself. */
  kill(): Promise<void>;
  /** Warm stop (SIGTERM), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Forks `childModule` with `options` (its second argument, as JSON) and follows it. */
export function forkLabProcess<Event extends { type: string }>(
  childModule: string,
  name: string,
  options: unknown,
  env: NodeJS.ProcessEnv,
  onEvent: (event: Event, from: string) => void,
): LabProcess {
  const child: ChildProcess = fork(childModule, [JSON.stringify(options)], {
    cwd: REPO_ROOT,
    execArgv: tsChildExecArgv(),
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let stopping = false;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // If this process goes first (an error, Ctrl-C), the child goes too; it also stops when its IPC channel closes.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));

  let fail: (error: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  // A wait that never raced it must not make an unhandled rejection of it.
  failed.catch(() => {});
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failed.catch(reject);
  });
  ready.catch(() => {});
  const timer = setTimeout(
    () => fail(new UserError(`${name} was not running within ${READY_TIMEOUT_MS} ms: ${lastLine(log)}`)),
    READY_TIMEOUT_MS,
  );
  // Nothing to wait for once it has run or ended, and the timer must not keep this process alive.
  timer.unref();
  void ready.finally(() => clearTimeout(timer)).catch(() => {});
  void exited.then(() => clearTimeout(timer));

  child.on('message', (event: Event) => {
    const told = event as unknown as LabChildEvent;
    if (told.type === 'ready') markReady();
    else if (told.type === 'error') {
      fail(
        told.todo
          ? new NotImplemented(told.todo, told.hint ?? '')
          : new UserError(`${name}: ${told.message}`),
      );
    }
    onEvent(event, name);
  });
  child.once('error', (error) => fail(new UserError(`could not start ${name}: ${error.message}`)));
  void exited.then(() => {
    if (!stopping)
      fail(new UserError(`${name} ended (code ${child.exitCode}): ${lastLine(log) || 'no output'}`));
  });

  return {
    name,
    pid: child.pid ?? -1,
    ready,
    failed,
    alive: () => child.exitCode === null && child.signalCode === null,
    async kill() {
      stopping = true;
      child.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 5000) {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const grace = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(grace);
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
