import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findRedisServer, freePort } from '../mini-queue/redis/embedded.ts';
import { answers } from '../mini-queue/redis/probe.ts';
import { run, start } from './helpers/cli.ts';
import { until } from './helpers/queues.ts';

/** A loopback port nothing listens on: our stand-in for "no Redis on 6379", without touching the real one. */
const deadPort = freePort;

async function noRedisEnv(): Promise<NodeJS.ProcessEnv> {
  return { REDIS_URL: '', MINI_QUEUE_DEFAULT_REDIS_URL: `redis://127.0.0.1:${await deadPort()}` };
}

const STARTED = /started a private Redis at redis:\/\/127\.0\.0\.1:(\d+)/;
const hasRedisServer = findRedisServer() !== undefined;

describe('Redis that starts itself', () => {
  it.skipIf(!hasRedisServer)(
    'starts a private redis-server when nothing answers, and stops it on exit',
    async () => {
      const ran = await run(['mini-queue', 'stats'], await noRedisEnv());
      expect(ran.code, ran.stderr).toBe(0);
      expect(JSON.parse(ran.stdout)).toMatchObject({ waiting: 0, succeeded: 0 });
      const port = Number(STARTED.exec(ran.stderr)?.[1]);
      expect(port, `announced in one line: ${ran.stderr}`).toBeGreaterThan(0);
      await until(async () => !(await answers('127.0.0.1', port)), 3000);
    },
  );

  it.skipIf(!hasRedisServer)(
    'leaves no redis-server behind when its process is killed with kill -9',
    async () => {
      const worker = start(['mini-queue', 'worker'], await noRedisEnv());
      let stderr = '';
      worker.stderr?.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      await until(() => STARTED.test(stderr), 15_000);
      const port = Number(STARTED.exec(stderr)?.[1]);
      expect(await answers('127.0.0.1', port)).toBe(true);
      worker.kill('SIGKILL');
      await until(async () => !(await answers('127.0.0.1', port)), 5000);
    },
  );

  it('with no Redis anywhere, says in one line what was tried and what to do', async () => {
    // A PATH with node alone: no redis-server to start.
    const bin = mkdtempSync(join(tmpdir(), 'mq-path-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    const env = { ...(await noRedisEnv()), PATH: bin };
    const ran = await run(['mini-queue', 'stats'], env);
    expect(ran.code).toBe(1);
    const lines = ran.stderr.trim().split('\n');
    expect(lines, 'one line, no stack trace').toHaveLength(1);
    expect(lines[0]).toMatch(
      /^No Redis answers at redis:\/\/127\.0\.0\.1:\d+ and redis-server is not on PATH/,
    );
    expect(lines[0]).toContain('docker run -p 6379:6379 redis:7');
    expect(lines[0]).toContain('REDIS_URL=');
  });

  it('with REDIS_URL pointing nowhere, names it (password hidden) and does not start anything', async () => {
    const port = await deadPort();
    const ran = await run(['mini-queue', 'stats'], { REDIS_URL: `redis://user:s3cret@127.0.0.1:${port}` });
    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain(`Cannot reach Redis at redis://user:***@127.0.0.1:${port} (REDIS_URL)`);
    expect(ran.stderr).not.toContain('s3cret');
    expect(ran.stderr).not.toContain('private Redis');
  });
});
