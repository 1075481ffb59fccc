/**
 * The worker's fast path sends the acks of one turn of the event loop in one EVALSHA (BrokerBase.ackSoon): lab
 * 00's own ack script, run once per message inside a wrapper (Scripts.runEach). It must keep everything one ack
 * has: each message settled exactly once, its result stored and counted; a second ack of the same message a
 * no-op; a TODO stub's guidance and a broken script's file:line reach the learner unchanged; a reserveReady()
 * asked for meanwhile runs after the acks.
 */

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ResultRecord } from '../mini-queue/broker.ts';
import { BrokerBase } from '../mini-queue/broker-base.ts';
import { NotImplemented } from '../mini-queue/errors.ts';
import { connectRedis } from '../mini-queue/redis/client.ts';
import type { Scripts } from '../mini-queue/redis/scripts.ts';
import { LuaScriptError } from '../mini-queue/redis/scripts.ts';
import { useQueues } from './helpers/queues.ts';

const queues = useQueues('batch-ack');
const SOLUTION_LUA = new URL('../solutions/00-broker/lua/', import.meta.url);
const folders: string[] = [];
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const close of closers.splice(0)) await close().catch(() => {});
});
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** A copy of lab 00's reference Lua, with ack-4.lua replaced by `ack` when given. */
function luaFolder(ack?: string): URL {
  const folder = mkdtempSync(join(tmpdir(), 'mq-batch-ack-'));
  folders.push(folder);
  cpSync(SOLUTION_LUA, folder, { recursive: true });
  if (ack !== undefined) writeFileSync(join(folder, 'ack-4.lua'), ack);
  return pathToFileURL(`${folder}/`);
}

class TestBroker extends BrokerBase {
  async push(raws: string[]): Promise<void> {
    await this.redis.lpush(this.keys.waiting, ...raws);
  }
  async reserve(): Promise<string[]> {
    return [];
  }
}

async function broker(lua: URL): Promise<TestBroker> {
  const redis = await connectRedis({ name: 'test-batch-ack' });
  const blocking = await connectRedis({ name: 'test-batch-ack-blocking', autoPipelining: false });
  const b = new TestBroker(
    { queue: queues.name(), redis, blocking, visibilityMs: 30_000, resultTtlSeconds: 60 },
    lua,
  );
  closers.push(() => b.close());
  return b;
}

function record(id: string): ResultRecord {
  return { id, task: 'noop', attempt: 0, enqueuedAt: Date.now(), state: 'SUCCESS', result: id };
}

describe('acks of one turn, in one script', () => {
  it('settles each message once, stores and counts each result, and sends one command for the lot', async () => {
    const b = await broker(SOLUTION_LUA);
    const raws = Array.from({ length: 120 }, (_, i) => JSON.stringify({ id: `m${i}` }));
    await b.push(raws);
    const held = await b.reserveReady(raws.length);
    expect(held).toHaveLength(120);
    const redis = (b as unknown as { redis: import('ioredis').Redis }).redis;
    // Every ack command the broker sends, counted where it is sent: Scripts.run sends one command per call (an
    // EVALSHA, or EVAL the first time), Scripts.runEach one per batch. (Not MONITOR: on a Redis shared with other
    // tests, ioredis's monitor connection once took their commands' lines for replies and threw.)
    let ackCommands = 0;
    const scripts = (b as unknown as { scripts: Scripts }).scripts;
    const run = scripts.run.bind(scripts);
    const runEach = scripts.runEach.bind(scripts);
    scripts.run = (name, keys, args) => {
      if (name === 'ack') ackCommands++;
      return run(name, keys, args);
    };
    scripts.runEach = (name, shared, items) => {
      if (name === 'ack') ackCommands++;
      return runEach(name, shared, items);
    };
    const acked = await Promise.all(held.map((raw) => b.ackSoon(raw, record(JSON.parse(raw).id))));
    expect(acked.every((a) => a)).toBe(true);
    // The same messages again: not held any more, so nothing is stored or counted twice.
    const again = await Promise.all(held.slice(0, 5).map((raw) => b.ackSoon(raw, record('again'))));
    expect(again).toEqual([false, false, false, false, false]);
    const stats = await b.stats();
    expect(stats).toMatchObject({ active: 0, succeeded: 120 });
    expect((await b.result('m7'))?.result).toBe('m7');
    expect(await redis.zcard(b.keys.leases)).toBe(0);
    // Two batches (120 acks, then 5), not 125 commands.
    expect(ackCommands).toBe(2);
  });

  it('a reserveReady asked for while acks wait runs after them: the slots they free are free', async () => {
    const b = await broker(SOLUTION_LUA);
    await b.push(['a', 'b', 'c']);
    const [first] = await b.reserveReady(1);
    const acked = b.ackSoon(first!, record('a'));
    // Asked for before the ack is even sent: it must still see active without `a`.
    const next = b.reserveReady(5);
    expect(await acked).toBe(true);
    expect(await next).toEqual(['b', 'c']);
    expect(await b.stats()).toMatchObject({ active: 2, succeeded: 1, waiting: 0 });
  });

  it("a TODO stub's guidance reaches the caller as NotImplemented, for every ack of the batch", async () => {
    const stub = "return redis.error_reply('TODO(00.3): remove, store and count in one script')\n";
    const b = await broker(luaFolder(stub));
    const results = await Promise.allSettled([b.ackSoon('x', record('x')), b.ackSoon('y', record('y'))]);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const error = (result as PromiseRejectedResult).reason;
      expect(error).toBeInstanceOf(NotImplemented);
      expect(String(error.message)).toContain('TODO(00.3)');
    }
  });

  it('a broken ack script is named by its own file and line, as when it runs alone', async () => {
    const source = readFileSync(new URL('ack-4.lua', SOLUTION_LUA), 'utf8');
    const lines = source.split('\n');
    const at = lines.findIndex((line) => line.includes("redis.call('ZREM'"));
    lines[at] = "redis.call('ZREM', KEYS[2])";
    const b = await broker(luaFolder(lines.join('\n')));
    await b.push(['z']);
    const [raw] = await b.reserveReady(1);
    const error = await b.ackSoon(raw!, record('z')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LuaScriptError);
    expect((error as LuaScriptError).line).toBe(at + 1);
    expect((error as LuaScriptError).file).toMatch(/ack-4\.lua$/);
  });
});
