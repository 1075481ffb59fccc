/**
 * No output ever shows the password of a REDIS_URL. Every error path we know of runs with a URL holding one
 * distinctive password, and everything each command printed (stdout and stderr) is searched for it: URLs that do
 * not parse, a wrong scheme or database, an unreachable host, a wrong password, a default address that is not
 * there, through the mini-queue CLI, the grader, the menu and a lab's demo.
 */
import { describe, expect, it } from 'vitest';
import { findRedisServer, freePort } from '../mini-queue/redis/embedded.ts';
import { type Ran, run } from './helpers/cli.ts';
import { TestRedis } from './helpers/redis-server.ts';

const SECRET = 'Zq7sekr1tPw';

/** Every line a command printed, stdout and stderr together. */
const printed = (ran: Ran) => `${ran.stdout}${ran.stderr}`;

/** The commands each bad URL goes through: the CLI's three, the grader, the menu's check, a lab's demo. */
const COMMANDS: Array<[string, string[]]> = [
  ['stats', ['mini-queue', 'stats', '--queue', 'secrets']],
  ['enqueue', ['mini-queue', 'enqueue', 'fib', '[1]', '--queue', 'secrets']],
  ['worker', ['mini-queue', 'worker', '--queue', 'secrets']],
  ['check', ['checker/index.ts', '00', '--solution']],
  ['menu check', ['labs', 'check', '00', '--solution']],
  ['demo', ['labs/00-broker']],
];
/** The mini-queue CLI's commands only. */
const CLI = COMMANDS.slice(0, 3);

/** Runs `commands` with `env`, a few at a time (the machine is shared), and returns what each printed. */
async function runAll(
  commands: Array<[string, string[]]>,
  env: NodeJS.ProcessEnv,
): Promise<Map<string, Ran>> {
  const out = new Map<string, Ran>();
  for (let i = 0; i < commands.length; i += 3) {
    const batch = commands.slice(i, i + 3);
    const done = await Promise.all(batch.map(([, args]) => run(args, env, 60_000)));
    for (const [k, [name]] of batch.entries()) out.set(name, done[k]!);
  }
  return out;
}

function expectNoSecret(results: Map<string, Ran>, label: string): void {
  for (const [name, ran] of results) {
    expect(printed(ran), `${label}: ${name} printed something`).not.toBe('');
    expect(printed(ran), `${label}: ${name} shows no password`).not.toContain(SECRET);
  }
}

describe('REDIS_URL passwords never reach the output', () => {
  // Every command resolves REDIS_URL the same way (resolve.ts, then address.ts): two shapes go through all of
  // them, the others through the CLI.
  it.each([
    ['a bad port', `redis://:${SECRET}@127.0.0.1:99999`, 'the port must be a number', COMMANDS],
    ['a missing slash: no host', `redis:/:${SECRET}@127.0.0.1:6379`, 'names no host', COMMANDS],
    ['a space in the host', `redis://:${SECRET}@my host:6379`, 'a space in the host', CLI],
    ['a missing colon after the scheme', `redis//:${SECRET}@127.0.0.1:6379`, 'must start with redis://', CLI],
    ['a user and a bad port', `rediss://admin:${SECRET}@127.0.0.1:port`, 'the port must be a number', CLI],
    ['another scheme', `http://:${SECRET}@127.0.0.1:6379`, 'must start with redis:// or rediss://', CLI],
    [
      'a database that is not a number',
      `redis://:${SECRET}@127.0.0.1:6379/zero`,
      'a database number like /0',
      CLI,
    ],
  ])('%s: one line saying what is wrong, the password masked', async (_, url, reason, commands) => {
    const results = await runAll(commands, { REDIS_URL: url });
    expectNoSecret(results, url);
    for (const [name, ran] of results) {
      expect(printed(ran), name).toContain(reason);
      expect(printed(ran), name).toMatch(/\*\*\*/);
    }
    const cli = results.get('stats')!;
    expect(cli.code).toBe(1);
    expect(cli.stderr.trim().split('\n'), 'one line, no stack trace').toHaveLength(1);
  });

  it('an unreachable host, plain and TLS', async () => {
    const port = await freePort();
    for (const url of [
      `redis://:${SECRET}@127.0.0.1:${port}`,
      `rediss://user:${SECRET}@127.0.0.1:${port}/2`,
    ]) {
      const results = await runAll(COMMANDS, { REDIS_URL: url });
      expectNoSecret(results, url);
      expect(results.get('stats')!.stderr).toMatch(
        /^Cannot reach Redis at rediss?:\/\/[^@]*:\*\*\*@127\.0\.0\.1/,
      );
    }
  });

  it.skipIf(!findRedisServer())('a wrong password, and a database this Redis does not have', async () => {
    const locked = await TestRedis.start(['--requirepass', 'the-right-one', '--save', '']);
    const open = await TestRedis.start(['--save', '']);
    try {
      const wrong = await runAll(COMMANDS, { REDIS_URL: `redis://:${SECRET}@127.0.0.1:${locked.port}` });
      expectNoSecret(wrong, 'wrong password');
      expect(wrong.get('stats')!.stderr).toMatch(/WRONGPASS|invalid password/);
      const missing = await runAll(CLI, {
        REDIS_URL: `redis://:${SECRET}@127.0.0.1:${open.port}/99`,
      });
      expectNoSecret(missing, 'no such database');
      expect(missing.get('stats')!.stderr).toContain(
        'REDIS_URL names database 99, which this Redis does not have',
      );
    } finally {
      await locked.destroy();
      await open.destroy();
    }
  });

  it('the default address (resolve.ts): not there, or not a URL, when REDIS_URL is not set', async () => {
    const port = await freePort();
    for (const fallback of [`redis://:${SECRET}@127.0.0.1:${port}`, `redis://:${SECRET}@bad host:6379`]) {
      // No redis-server on PATH: no private Redis to fall back on, so the message names the address tried.
      const results = await runAll(CLI, {
        REDIS_URL: '',
        MINI_QUEUE_DEFAULT_REDIS_URL: fallback,
        PATH: '/nonexistent',
      });
      expectNoSecret(results, fallback);
    }
  });
});
