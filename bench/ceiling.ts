/**
 * Section 5: the Redis ceiling on this machine, redis-benchmark style but measured from Node, so every queue
 * figure has its physical limit beside it. A tiny raw RESP client (pre-encoded commands on plain sockets, replies
 * counted, not parsed into objects) measures Redis and the loopback, not a client library: ioredis would make
 * the Node side the limit. Two shapes, as redis-benchmark runs them: pipelined (a few connections, 64 commands
 * per write) and unpipelined (50 connections, one command each at a time).
 */
import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { connectRedis } from '../mini-queue/redis/client.ts';
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

function resp(...parts: string[]): string {
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
}

/** A connection that writes pre-encoded batches and resolves when as many reply lines have come back. */
async function open(url: URL): Promise<Socket> {
  const socket = connect({ host: url.hostname, port: Number(url.port || 6379) });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const auth =
    url.password && url.username
      ? resp('AUTH', decodeURIComponent(url.username), decodeURIComponent(url.password))
      : url.password
        ? resp('AUTH', decodeURIComponent(url.password))
        : '';
  const select = url.pathname.length > 1 ? resp('SELECT', url.pathname.slice(1)) : '';
  if (auth || select) await batch(socket, Buffer.from(auth + select), (auth ? 1 : 0) + (select ? 1 : 0));
  return socket;
}

/** Sends one buffer and waits for `lines` reply lines (LPUSH: 1 per reply; RPOP of 'x': 2 per reply). */
function batch(socket: Socket, data: Buffer, lines: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = lines;
    const onData = (chunk: Buffer) => {
      if (chunk[0] === 45 /* '-' */) return done(new Error(chunk.toString().trim()));
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) left--;
      if (left <= 0) done();
    };
    const done = (error?: Error) => {
      socket.off('data', onData);
      if (error) reject(error);
      else resolve();
    };
    socket.on('data', onData);
    socket.write(data);
  });
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
  const sockets = await Promise.all(Array.from({ length: connections }, () => open(url)));
  try {
    const push = Buffer.from(resp('LPUSH', key, 'x').repeat(depth));
    const pop = Buffer.from(resp('RPOP', key).repeat(depth));
    const counts = sockets.map(() => 0);
    let started = performance.now();
    await Promise.all(
      sockets.map(async (socket, i) => {
        while (since(started) < seconds) {
          await batch(socket, push, depth);
          counts[i]! += depth;
        }
      }),
    );
    const pushed = counts.reduce((a, b) => a + b, 0);
    const lpush = pushed / since(started);
    started = performance.now();
    await Promise.all(
      sockets.map(async (socket, i) => {
        for (let popped = 0; popped < counts[i]!; popped += depth) await batch(socket, pop, 2 * depth);
      }),
    );
    return { lpush, rpop: pushed / since(started) };
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}

async function redisBenchmark(url: URL, key: string): Promise<CeilingResult['redisBenchmark'] | undefined> {
  if (url.protocol !== 'redis:') return undefined;
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
  const address = new URL(url);
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
