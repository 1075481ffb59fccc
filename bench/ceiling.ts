/**
 * Section 5: the Redis ceiling on this machine, redis-benchmark style but measured from Node, so every queue
 * figure has its physical limit beside it. A tiny raw RESP client (pre-encoded commands on plain sockets, replies
 * counted, not parsed into objects) measures Redis and the loopback, not a client library: ioredis would make
 * the Node side the limit. Two shapes, as redis-benchmark runs them: pipelined (a few connections, 64 commands
 * per write) and unpipelined (50 connections, one command each at a time).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseRedisUrl } from '../mini-queue/redis/address.ts';
import { connectRedis } from '../mini-queue/redis/client.ts';
import { encodeCommand } from '../mini-queue/redis/resp.ts';
import { open } from './raw-redis.ts';
import { fmt, type Row, type Summary, since, spreads, summarize } from './stats.ts';

export interface CeilingResult {
  /** ops/s, median of the runs. */
  pipelined: { lpush: Summary; rpop: Summary; connections: number; depth: number };
  unpipelined: { lpush: Summary; rpop: Summary; connections: number };
  /** The real redis-benchmark (C, 50 connections), when it is on PATH: a check on the Node figures. */
  redisBenchmark?: {
    pipelined: { lpush: number; rpop: number; depth: number };
    unpipelined: { lpush: number; rpop: number };
  };
}

/**
 * Every connection sends `depth` commands per write, waits for their replies, and repeats: LPUSH for `seconds`,
 * then exactly as many RPOPs (so no RPOP finds the list empty and replies differently). Returns ops/s of each.
 */
async function drive(
  url: URL,
  key: string,
  connections: number,
  depth: number,
  seconds: number,
): Promise<{ lpush: number; rpop: number }> {
  const opened = await Promise.all(Array.from({ length: connections }, () => open(url)));
  try {
    const push = Buffer.from(encodeCommand(['LPUSH', key, 'x']).repeat(depth));
    const pop = Buffer.from(encodeCommand(['RPOP', key]).repeat(depth));
    let started = performance.now();
    const batches = await Promise.all(
      opened.map((c) => c.repeat(push, depth, () => since(started) < seconds)),
    );
    const pushed = batches.reduce((a, b) => a + b, 0) * depth;
    const lpush = pushed / since(started);
    started = performance.now();
    await Promise.all(opened.map((c, i) => c.repeat(pop, 2 * depth, (sent) => sent < batches[i]!)));
    return { lpush, rpop: pushed / since(started) };
  } finally {
    for (const c of opened) c.close();
  }
}

async function redisBenchmark(url: URL, key: string): Promise<CeilingResult['redisBenchmark'] | undefined> {
  const base = ['-h', url.hostname, '-p', url.port || '6379', '-c', '50', '-q'];
  if (url.password) base.push('-a', decodeURIComponent(url.password), '--no-auth-warning');
  const rate = async (depth: number, n: number, ...command: string[]) => {
    const args = [...base, '-P', String(depth), '-n', String(n), ...command];
    const { stdout } = await promisify(execFile)('redis-benchmark', args, { timeout: 20_000 });
    // "LPUSH bench:...: 123456.79 requests per second, p50=..." (the last \r-separated progress line)
    const match = /([\d.]+) requests per second/.exec(stdout.split('\r').at(-1) ?? stdout);
    if (!match) throw new Error(`unexpected redis-benchmark output: ${stdout.slice(-200)}`);
    return Number(match[1]);
  };
  try {
    // Equal counts of LPUSH and RPOP, so no RPOP finds the list empty.
    const pipelined = {
      lpush: await rate(16, 200_000, 'LPUSH', key, 'x'),
      rpop: await rate(16, 200_000, 'RPOP', key),
    };
    const unpipelined = {
      lpush: await rate(1, 50_000, 'LPUSH', key, 'x'),
      rpop: await rate(1, 50_000, 'RPOP', key),
    };
    return { pipelined: { ...pipelined, depth: 16 }, unpipelined };
  } catch {
    return undefined; // not installed, or an old one: the Node figures stand alone
  }
}

export async function runCeiling(url: string, runs: number): Promise<CeilingResult> {
  const address = parseRedisUrl(url);
  if (address.protocol !== 'redis:') throw new Error('the Redis ceiling needs a plain redis:// URL');
  const key = `bench-ceiling:{${process.pid}}:list`;
  const pipelined = { lpush: [] as number[], rpop: [] as number[] };
  const unpipelined = { lpush: [] as number[], rpop: [] as number[] };
  const redis = await connectRedis({ url });
  try {
    await drive(address, key, 4, 64, 0.2); // warm-up: sockets, Redis's list allocator
    for (let r = 0; r < runs; r++) {
      const a = await drive(address, key, 4, 64, 0.7);
      pipelined.lpush.push(a.lpush);
      pipelined.rpop.push(a.rpop);
      const b = await drive(address, key, 50, 1, 0.7);
      unpipelined.lpush.push(b.lpush);
      unpipelined.rpop.push(b.rpop);
    }
    const benchmark = await redisBenchmark(address, key);
    return {
      pipelined: {
        lpush: summarize(pipelined.lpush),
        rpop: summarize(pipelined.rpop),
        connections: 4,
        depth: 64,
      },
      unpipelined: {
        lpush: summarize(unpipelined.lpush),
        rpop: summarize(unpipelined.rpop),
        connections: 50,
      },
      ...(benchmark ? { redisBenchmark: benchmark } : {}),
    };
  } finally {
    await redis.del(key);
    redis.disconnect();
  }
}

export function ceilingRows(result: CeilingResult): Row[] {
  const { pipelined: p, unpipelined: u, redisBenchmark: rb } = result;
  const row = (measure: string, ours: Summary, theirs?: number): Row => ({
    section: '5 Redis',
    measure,
    ours: `${fmt(ours.median)} ops/s`,
    theirs: theirs === undefined ? '-' : `redis-benchmark ${fmt(theirs)}/s`,
    ratio: theirs === undefined ? undefined : ours.median / theirs,
    spread: spreads(ours),
  });
  return [
    row(`LPUSH pipelined (Node: ${p.connections} conns x ${p.depth})`, p.lpush, rb?.pipelined.lpush),
    row(`RPOP pipelined (Node: ${p.connections} conns x ${p.depth})`, p.rpop, rb?.pipelined.rpop),
    row(`LPUSH unpipelined (${u.connections} conns)`, u.lpush, rb?.unpipelined.lpush),
    row(`RPOP unpipelined (${u.connections} conns)`, u.rpop, rb?.unpipelined.rpop),
  ];
}
