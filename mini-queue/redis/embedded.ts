import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { waitUntilAnswers } from './probe.ts';

export interface EmbeddedRedis {
  readonly url: string;
  readonly pid: number;
  stop(): void;
}

/** The redis-server executable on PATH, or undefined. */
export function findRedisServer(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

/** A loopback port free right now (it may be taken by the time it is used: callers retry). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/*
 * The watchdog. redis-server runs under a tiny `sh` whose stdin is a pipe from us. When this process ends in any
 * way (exit, Ctrl-C, an uncaught crash, even kill -9) the kernel closes the pipe, `read` returns and the shell
 * kills redis-server. No orphan survives us. `detached` puts it in its own process group, so a Ctrl-C aimed at
 * the foreground job does not take Redis down while our worker is still finishing in-flight tasks.
 */
const WATCHDOG = [
  'server="$1"; dir="$2"; shift 2',
  '"$server" "$@" --dir "$dir" & pid=$!',
  'trap \'kill $pid 2>/dev/null; wait $pid; rm -rf "$dir"\' EXIT',
  "trap 'exit 0' HUP INT TERM",
  'read _eof',
].join('\n');

/**
 * Starts a private, throw-away redis-server on a free loopback port: no persistence, its own temp dir, stopped
 * when this process ends.
 */
export async function startEmbeddedRedis(executable: string): Promise<EmbeddedRedis> {
  let lastError = '';
  // The free port can be taken between our probe and redis-server's bind: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'mini-queue-redis-'));
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    const child: ChildProcess = spawn('sh', ['-c', WATCHDOG, 'sh', executable, dir, ...args], {
      cwd: dir,
      detached: true,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const up = await Promise.race([waitUntilAnswers('127.0.0.1', port, 5000), exited.then(() => false)]);
    if (!up) {
      lastError = stderr.trim().split('\n').pop() ?? '';
      child.kill();
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    const stop = () => {
      child.stdin?.destroy();
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    };
    // Never keep this process alive just for Redis; clean up on a normal exit too.
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
    process.once('exit', stop);
    return { url: `redis://127.0.0.1:${port}`, pid: child.pid ?? -1, stop };
  }
  throw new Error(`could not start redis-server: ${lastError || 'it did not answer'}`);
}
