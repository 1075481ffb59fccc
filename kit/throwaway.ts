/**
 * Throw-away queues (a demo's, a check's) leave nothing in Redis, however their process ends:
 *
 * - a normal end: the owner drops them (`dropThrowaways`, or its own `finally`);
 * - Ctrl-C, SIGTERM: the handler installed here runs the registered undos (stop workers, child processes), then
 *   drops every throw-away queue of this process, then exits (130 or 143). A second signal exits at once;
 * - SIGKILL (a check's time-out kills its process group; kill -9): nothing runs in the process, so two backstops.
 *   Every SWEEP_MS a sweep sets an EXPIRE of TTL_S on every key of each queue: keys a queue gets later (a result,
 *   the stats hash on the first ack) get theirs at the next sweep. We sweep rather than set TTLs where keys are
 *   made because the chassis makes keys in a dozen places (Lua scripts included); one sweep covers all of them,
 *   now and after any change. What the last sweep missed is caught by the registry: each queue is listed in the
 *   hash REGISTRY (name -> host:pid), and every new throw-away (and `reapOrphans()`) drops the queues whose
 *   process is gone, keys without a TTL included.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { dropQueues, expireQueue } from '../mini-queue/admin.ts';
import { connectRedis } from '../mini-queue/redis/client.ts';
import { announceQueue } from './dashboard.ts';

/** A throw-away queue's keys expire this long after the last sweep saw them. */
export const TTL_S = 60;
const SWEEP_MS = 2000;
/** Hash: throw-away queue name -> `host:pid` of the process that owns it. Not under `mq:{`, so no queue's key. */
export const REGISTRY = 'mq:throwaway';
const OWNER = `${hostname()}:${process.pid}`;

const queues = new Set<string>();
const undos = new Set<() => Promise<unknown>>();
let redis: Promise<Redis> | undefined;
let sweeper: NodeJS.Timeout | undefined;
/** Registry writes and sweeps in flight: a clean-up waits for them, so none lands after it. */
let pending: Promise<unknown> = Promise.resolve();

/**
 * Marks `name` as a throw-away queue of this process and returns it: its keys get a TTL while the process runs,
 * it is dropped on Ctrl-C or SIGTERM, and reaped by the next run if the process is killed.
 */
export function throwaway(name: string): string {
  if (!queues.has(name)) {
    queues.add(name);
    // A demo's queue, when a dashboard runs: the instructor's page can follow it.
    announceQueue(name);
    installSignalHandlers();
    queue(async (r) => {
      await r.hset(REGISTRY, name, OWNER);
      await reapWith(r);
    });
    sweeper ??= setInterval(sweep, SWEEP_MS).unref();
  }
  return name;
}

/**
 * Something to undo before the queues go on Ctrl-C or SIGTERM (stop the workers, so none writes a key after
 * the drop). Returns the function that unregisters it, for when it has run on its own.
 */
export function onInterrupt(undo: () => Promise<unknown>): () => void {
  installSignalHandlers();
  undos.add(undo);
  return () => {
    undos.delete(undo);
  };
}

/** Drops the given throw-away queues (all of this process's by default) and forgets them. */
export async function dropThrowaways(names: string[] = [...queues]): Promise<void> {
  await pending.catch(() => {});
  for (const name of names) queues.delete(name);
  await dropQueues(names);
  if (redis) {
    const r = await redis.catch(() => undefined);
    if (r && names.length > 0) await r.hdel(REGISTRY, ...names).catch(() => {});
  }
  if (queues.size === 0) await stop();
}

/** Drops the queues of the registry whose owning process (on this host) is gone. Returns their names. */
export async function reapOrphans(): Promise<string[]> {
  const r = await connectRedis();
  try {
    return await reapWith(r);
  } finally {
    r.disconnect();
  }
}

async function reapWith(r: Redis): Promise<string[]> {
  const owners = await r.hgetall(REGISTRY);
  const host = `${hostname()}:`;
  const orphans = Object.entries(owners)
    .filter(([, owner]) => owner.startsWith(host) && !alive(Number(owner.slice(host.length))))
    .map(([name]) => name);
  if (orphans.length > 0) {
    await dropQueues(orphans);
    await r.hdel(REGISTRY, ...orphans);
  }
  // The registry itself must not outlive its users for ever either.
  await r.expire(REGISTRY, 24 * 3600);
  return orphans;
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sweep(): void {
  queue(async (r) => {
    for (const name of queues) await expireQueue(r, name, TTL_S);
  });
}

/** Runs `job` on this module's connection, after the jobs before it; a failure (Redis away) is dropped. */
function queue(job: (r: Redis) => Promise<unknown>): void {
  redis ??= connectRedis({ name: 'throwaway' });
  const connection = redis;
  pending = pending.then(async () => job(await connection)).catch(() => {});
}

async function stop(): Promise<void> {
  if (sweeper) clearInterval(sweeper);
  sweeper = undefined;
  const r = redis;
  redis = undefined;
  (await r?.catch(() => undefined))?.disconnect();
}

let installed = false;
function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      // A second Ctrl-C: Node's default, at once.
      process.once(signal, () => process.exit(code));
      // The terminal echoes ^C where the cursor is, often mid-line (a progress bar): end that line first.
      if (process.stdout.isTTY) process.stdout.write('\n');
      void cleanUp().finally(() => process.exit(code));
    });
  }
}

/** Undos first (bounded: a worker stuck in a TODO must not hold Ctrl-C), then the queues, twice: a write that was
 * already on its way when the first drop ran lands before the second. */
async function cleanUp(): Promise<void> {
  const bounded = (p: Promise<unknown>, ms: number) =>
    Promise.race([p, new Promise((resolve) => setTimeout(resolve, ms).unref())]);
  await bounded(Promise.allSettled([...undos].map((undo) => undo())), 3000);
  const names = [...queues];
  // The registry keeps the names: a write still on its way when we exit (a producer mid-batch) lands after the
  // last drop, and the next run's reaper (this pid is dead by then) drops the queue again.
  await bounded(dropQueues(names), 3000);
  await new Promise((resolve) => setTimeout(resolve, 100));
  await bounded(dropQueues(names), 2000);
}
