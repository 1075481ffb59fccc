import type { Redis } from 'ioredis';
import type { QueueStats, ResultRecord } from './broker.ts';
import { NotImplemented } from './errors.ts';
import type { FastBroker } from './fast-broker.ts';
import { type QueueKeys, queueKeys } from './keys.ts';
import { Scripts } from './redis/scripts.ts';
import { firstInvalidUtf8, type UndecodableBroker } from './undecodable.ts';

export interface BrokerConnections {
  queue: string;
  /** For every command but the blocking one. */
  redis: Redis;
  /** Only for BLMOVE: a blocked connection cannot serve other commands meanwhile. */
  blocking: Redis;
  visibilityMs: number;
  resultTtlSeconds: number;
}

const HARNESS_LUA = new URL('./lua/', import.meta.url);

/**
 * Most messages one reserveReady() moves: the script unpacks them into one LPUSH and one ZADD, and Lua's stack
 * holds a few thousand values at most. A worker with more free slots calls again.
 */
const RESERVE_BATCH_MAX = 500;
/** Most acks one EVALSHA carries (see ackSoon): the rest go in the next one, in the same write. */
const ACK_BATCH_MAX = 500;

interface PendingAck {
  raw: string;
  record: ResultRecord;
  encoded: string;
  settle: (held: boolean) => void;
  fail: (error: unknown) => void;
}

/**
 * Everything of the broker that is not lab 00's lesson: connections, keys, results, counters, retries, delayed
 * tasks, dead letters, and the worker's fast path (FastBroker). Lab 00 subclasses it with `push` and `reserve`,
 * and writes `ack` and `recover` in Lua (the files in its `lua/` folder, found through `luaDirectory`).
 */
export abstract class BrokerBase implements FastBroker, UndecodableBroker {
  readonly keys: QueueKeys;
  protected readonly redis: Redis;
  protected readonly blocking: Redis;
  protected readonly visibilityMs: number;
  protected readonly resultTtlSeconds: number;
  protected readonly scripts: Scripts;
  /** Acks waiting for the end of this turn of the event loop (ackSoon), oldest first. */
  private pendingAcks: PendingAck[] = [];
  /** Reserves waiting for those acks to be sent first (reserveReady). */
  private afterAcks: Array<() => void> = [];

  constructor(connections: BrokerConnections, luaDirectory: URL) {
    this.keys = queueKeys(connections.queue);
    this.redis = connections.redis;
    this.blocking = connections.blocking;
    this.visibilityMs = connections.visibilityMs;
    this.resultTtlSeconds = connections.resultTtlSeconds;
    this.scripts = new Scripts(this.redis, [HARNESS_LUA, luaDirectory]);
  }

  abstract push(raws: string[]): Promise<void>;
  abstract reserve(max: number, blockMs: number): Promise<string[]>;

  /** A lab stub: throws the guidance for a TODO that is not done yet. */
  protected todo(id: string, hint: string): never {
    throw new NotImplemented(id, hint);
  }

  /** The lease deadline for a message reserved now. */
  protected leaseDeadline(): number {
    return Date.now() + this.visibilityMs;
  }

  async reserveReady(max: number): Promise<string[]> {
    // Acks queued this turn go first, on this same connection: Redis runs them before this reserve, so the slots
    // they free are free by then (the worker counts on it).
    if (this.pendingAcks.length > 0) await new Promise<void>((resolve) => this.afterAcks.push(resolve));
    const k = this.keys;
    const taken = await this.scripts.run(
      'reserve-batch',
      [k.waiting, k.active, k.leases],
      [Math.min(max, RESERVE_BATCH_MAX), this.leaseDeadline()],
    );
    return taken as string[];
  }

  async ack(raw: string, record: ResultRecord, encoded = JSON.stringify(record)): Promise<boolean> {
    const k = this.keys;
    const counter = record.state === 'SUCCESS' ? 'succeeded' : 'failed';
    const held = await this.scripts.run(
      'ack',
      [k.active, k.leases, k.stats, k.result(record.id)],
      [raw, encoded, this.resultTtlSeconds, counter],
    );
    return held === 1;
  }

  /**
   * ack(), sent with every other ack of this turn of the event loop in one EVALSHA: the acks of a burst of short
   * tasks, which settle together, cost one command instead of one each. Each ack is still lab 00's ack script,
   * run once per message, as atomic as ever (Scripts.runEach). A subclass that overrides ack() in TypeScript
   * keeps its own ack, one at a time.
   */
  ackSoon(raw: string, record: ResultRecord, encoded = JSON.stringify(record)): Promise<boolean> {
    if (this.ack !== BrokerBase.prototype.ack) return this.ack(raw, record, encoded);
    return new Promise<boolean>((settle, fail) => {
      // The end of this turn: process.nextTick runs once every promise callback queued so far has run, so the
      // acks of tasks that settle in the same burst all make it into this batch.
      if (this.pendingAcks.length === 0) process.nextTick(() => this.sendAcks());
      this.pendingAcks.push({ raw, record, encoded, settle, fail });
    });
  }

  private sendAcks(): void {
    const k = this.keys;
    const pending = this.pendingAcks;
    this.pendingAcks = [];
    for (let from = 0; from < pending.length; from += ACK_BATCH_MAX) {
      const batch = pending.slice(from, from + ACK_BATCH_MAX);
      const items = batch.map(({ raw, record, encoded }) => ({
        keys: [k.result(record.id)],
        args: [raw, encoded, this.resultTtlSeconds, record.state === 'SUCCESS' ? 'succeeded' : 'failed'],
      }));
      this.scripts.runEach('ack', [k.active, k.leases, k.stats], items).then(
        (replies) => {
          for (const [i, ack] of batch.entries()) ack.settle(replies[i] === 1);
        },
        (error: unknown) => {
          for (const ack of batch) ack.fail(error);
        },
      );
    }
    // The acks are on the connection now: the reserves that waited for them may follow.
    const waiting = this.afterAcks;
    this.afterAcks = [];
    for (const resume of waiting) resume();
  }

  async recover(): Promise<number> {
    const k = this.keys;
    return Number(
      await this.scripts.run('recover', [k.active, k.leases, k.waiting], [Date.now(), this.visibilityMs]),
    );
  }

  async retry(raw: string, nextRaw: string, dueAt: number, record: ResultRecord): Promise<boolean> {
    const k = this.keys;
    const held = await this.scripts.run(
      'retry',
      [k.active, k.leases, k.delayed, k.stats, k.result(record.id)],
      [raw, nextRaw, dueAt, JSON.stringify(record), this.resultTtlSeconds],
    );
    return held === 1;
  }

  async release(raws: string[]): Promise<number> {
    if (raws.length === 0) return 0;
    const k = this.keys;
    return Number(await this.scripts.run('release', [k.active, k.leases, k.waiting], raws));
  }

  /** Gives a held message back to the delayed set until `dueAt`, unrun (see lua/defer-3.lua). */
  async defer(raw: string, dueAt: number): Promise<boolean> {
    const k = this.keys;
    return (await this.scripts.run('defer', [k.active, k.leases, k.delayed], [raw, dueAt])) === 1;
  }

  async schedule(raw: string, dueAt: number): Promise<void> {
    await this.redis.zadd(this.keys.delayed, dueAt, raw);
  }

  async promote(): Promise<number> {
    return Number(
      await this.scripts.run('promote', [this.keys.delayed, this.keys.waiting], [Date.now(), 1000]),
    );
  }

  async bury(raw: string, reason: string): Promise<void> {
    const k = this.keys;
    // One MULTI: the message leaves the in-flight set and enters the dead-letter list together, or not at all.
    await this.redis
      .multi()
      .lrem(k.active, 1, raw)
      .zrem(k.leases, raw)
      .lpush(k.dead, JSON.stringify({ reason, raw, at: Date.now() }))
      .exec();
  }

  async buryUndecodable(seen: string): Promise<{ buried: string } | 'intact' | 'gone'> {
    const k = this.keys;
    const exact = Buffer.from(seen);
    let intact = false;
    // Read as bytes: only here can a message that is not UTF-8 be told apart from what it was decoded to.
    for (const bytes of await this.redis.lrangeBuffer(k.active, 0, -1)) {
      const at = firstInvalidUtf8(bytes);
      if (at < 0) {
        intact ||= bytes.equals(exact);
        continue;
      }
      if (bytes.toString() !== seen) continue;
      const reason = `not valid UTF-8: byte 0x${bytes[at]!.toString(16).padStart(2, '0')} at offset ${at}`;
      // `raw` as read, for people; `rawBase64` byte for byte, for whoever wants to replay or fix it.
      const letter = JSON.stringify({
        reason,
        raw: seen,
        rawBase64: bytes.toString('base64'),
        at: Date.now(),
      });
      // 0: another worker holding a message that reads the same buried this entry just now; try the next one.
      if ((await this.scripts.run('bury-bytes', [k.active, k.leases, k.dead], [bytes, seen, letter])) === 1)
        return { buried: reason };
    }
    return intact ? 'intact' : 'gone';
  }

  async extendLeases(raws: string[]): Promise<void> {
    if (raws.length === 0) return;
    const deadline = this.leaseDeadline();
    // XX: only renew leases that still exist; an acked message must not get one back.
    await this.redis.zadd(this.keys.leases, 'XX', ...raws.flatMap((raw) => [deadline, raw]));
  }

  /** Never over a SUCCESS or FAILURE: a STARTED written late by a stalled run would hide its rerun's result. */
  async started(record: ResultRecord): Promise<void> {
    await this.scripts.run(
      'started',
      [this.keys.result(record.id)],
      [JSON.stringify(record), this.resultTtlSeconds],
    );
  }

  async result(id: string): Promise<ResultRecord | undefined> {
    const raw = await this.redis.get(this.keys.result(id));
    return raw === null ? undefined : (JSON.parse(raw) as ResultRecord);
  }

  async stats(): Promise<QueueStats> {
    const k = this.keys;
    const replies = await this.redis
      .multi()
      .llen(k.waiting)
      .llen(k.active)
      .zcard(k.delayed)
      .hmget(k.stats, 'succeeded', 'failed')
      .llen(k.dead)
      .exec();
    const [waiting, active, delayed, counters, dead] = (replies ?? []).map(([error, value]) => {
      if (error) throw error;
      return value;
    }) as [number, number, number, Array<string | null>, number];
    return {
      waiting,
      active,
      delayed,
      succeeded: Number(counters[0] ?? 0),
      failed: Number(counters[1] ?? 0),
      dead,
    };
  }

  async close(): Promise<void> {
    this.blocking.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
