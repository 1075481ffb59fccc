/**
 * Nothing is left in Redis: demos (and, once checker/spec-kit.ts names its queues through kit/throwaway.ts,
 * checks) interrupted with SIGINT at a random moment (seeded) leave no key of their queues behind, and none
 * without a TTL. Also the backstops themselves: the TTL sweep and the orphan reaper after a SIGKILL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../kit/todos.ts';
import { random } from '../mini-queue/random.ts';
import { connectRedis } from '../mini-queue/redis/client.ts';

const SEED = Number(process.env.CLEANUP_SEED ?? 15);
const next = random(SEED);

let redis: Redis;
beforeAll(async () => {
  redis = await connectRedis();
});
afterAll(() => redis.disconnect());

/** `node --import tsx <args>`: the pid we signal is the demo itself, and its queues carry that pid. */
function start(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0' },
  });
}

/** The exit code, or the signal's conventional one (128 + n) when it ended by Node's default handler. */
function exited(child: ChildProcess): Promise<number> {
  const code = () => child.exitCode ?? (child.signalCode === 'SIGINT' ? 130 : -1);
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(code());
    else child.once('exit', () => resolve(code()));
  });
}

/** Every key of the queues whose name holds `-<pid>` (a demo's), with its TTL (-1: none). */
async function keysOf(pid: number): Promise<Array<[string, number]>> {
  const found: Array<[string, number]> = [];
  for (const pattern of [`mq:{lab*-${pid}}:*`, `mq:{lab*-${pid}-*}:*`, `mq:{check-*-${pid}-*}:*`]) {
    let cursor = '0';
    do {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = nextCursor;
      for (const key of keys) found.push([key, await redis.ttl(key)]);
    } while (cursor !== '0');
  }
  return found;
}

/** Five demos, twice each: 10 runs, each interrupted between 1 s and `within` s after it starts. */
const DEMOS: Array<{ lab: string; within: number }> = [
  { lab: '00-broker', within: 3 },
  { lab: '01-event-loop', within: 4 },
  { lab: '02-coroutines', within: 4 },
  { lab: '05-prefork', within: 4 },
  { lab: '04-processes', within: 4 },
];
const RUNS = [...DEMOS, ...DEMOS].map((demo, i) => ({
  ...demo,
  i,
  at: Math.round(1000 + next() * (demo.within - 1) * 1000),
}));

describe(`Ctrl-C leaves nothing in Redis (seed ${SEED})`, () => {
  it.each(RUNS)(
    'labs/$lab --solution, SIGINT at $at ms (run $i)',
    { timeout: 20_000 },
    async ({ lab, at }) => {
      const child = start([`labs/${lab}/index.ts`, '--solution']);
      let output = '';
      child.stdout?.on('data', (d) => (output += d));
      child.stderr?.on('data', (d) => (output += d));
      await new Promise((resolve) => setTimeout(resolve, at));
      const seen = await keysOf(child.pid!);
      child.kill('SIGINT');
      const code = await exited(child);
      const left = await reapedKeysOf(child.pid!);
      expect(left, `keys left after SIGINT at ${at} ms (had ${seen.length}); output:\n${output}`).toEqual([]);
      expect([0, 1, 130]).toContain(code);
    },
  );
});

// The checker kills a spec's process group with SIGKILL (Ctrl-C, time-out): only the backstops can help there.
describe('Ctrl-C during `npm run check` leaves nothing without a TTL', () => {
  it('check 00 --solution, SIGINT 4 to 7 s in, then the reaper', { timeout: 30_000 }, async () => {
    // Keys of older runs (before this fix, or other people's live checks) are not this run's.
    const before = new Set(await scanAll('mq:{check-00-*'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'checker/index.ts', '00', '--solution'], {
      cwd: REPO_ROOT,
      stdio: 'ignore',
    });
    await new Promise((resolve) => setTimeout(resolve, 4000 + next() * 3000));
    child.kill('SIGINT');
    await exited(child);
    // The spec's processes were SIGKILLed with the grader's exit; the reaper drops their queues once they are
    // gone (a dying process still answers kill(pid, 0) for a moment).
    const { reapOrphans } = await import('../kit/throwaway.ts');
    let left: Array<[string, number]> = [];
    for (let tries = 0; tries < 20; tries++) {
      await reapOrphans();
      left = [];
      for (const key of await scanAll('mq:{check-00-*')) {
        if (before.has(key)) continue;
        const ttl = await redis.ttl(key);
        if (ttl === -1) left.push([key, ttl]);
      }
      if (left.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(left).toEqual([]);
  });
});

/** The demo's keys after the next run's reaper has had its go (what a write landing after the exit leaves). */
async function reapedKeysOf(pid: number): Promise<Array<[string, number]>> {
  const { reapOrphans } = await import('../kit/throwaway.ts');
  let left = await keysOf(pid);
  for (let tries = 0; tries < 20 && left.length > 0; tries++) {
    await reapOrphans();
    left = await keysOf(pid);
    if (left.length > 0) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return left;
}

async function scanAll(pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = nextCursor;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

describe('the backstops', () => {
  it('a SIGKILLed demo: its keys get a TTL from the sweep, and the reaper drops them', {
    timeout: 20_000,
  }, async () => {
    const child = start(['labs/00-broker/index.ts', '--solution', '--tasks', '3000']);
    // Until the queue exists and a sweep (every 2 s) has had a go at it: a busy machine starts slowly.
    let before: Array<[string, number]> = [];
    for (let waited = 0; waited < 15_000 && !before.some(([, ttl]) => ttl > 0); waited += 250) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      before = await keysOf(child.pid!);
    }
    child.kill('SIGKILL');
    await exited(child);
    expect(
      before.some(([, ttl]) => ttl > 0),
      'a key with a TTL from the sweep',
    ).toBe(true);
    const { reapOrphans } = await import('../kit/throwaway.ts');
    const reaped = await reapOrphans();
    expect(reaped).toContain(`lab00-${child.pid}`);
    expect(await keysOf(child.pid!)).toEqual([]);
  });
});
