import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../mini-queue/redis/embedded.ts';
import { waitUntilAnswers } from '../../mini-queue/redis/probe.ts';

/**
 * A redis-server of the test's own, on a free port, for faults the shared Redis must not suffer (restarts, TLS,
 * passwords). `args` are extra redis-server flags; the port flag is ours (`--port`, or `--tls-port` with `tls`).
 */
export class TestRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'mq-test-redis-'));
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly args: string[],
    private readonly tls: boolean,
  ) {}

  static async start(args: string[] = [], options: { tls?: boolean } = {}): Promise<TestRedis> {
    const server = new TestRedis(await freePort(), args, options.tls ?? false);
    await server.up();
    return server;
  }

  async up(): Promise<void> {
    const portArgs = this.tls
      ? ['--port', '0', '--tls-port', String(this.port)]
      : ['--port', String(this.port)];
    this.child = spawn(
      'redis-server',
      [...portArgs, '--bind', '127.0.0.1', '--dir', this.dir, ...this.args],
      {
        stdio: 'ignore',
      },
    );
    if (!(await waitUntilAnswers('127.0.0.1', this.port, 5000)))
      throw new Error('test redis-server did not start');
  }

  /** Sends it a signal and returns: SIGSTOP hangs it (it holds its connections and answers nothing), SIGCONT resumes. */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** Stops it (SIGTERM: a clean shutdown that writes the append-only file when enabled). */
  async down(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async destroy(): Promise<void> {
    await this.down('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
