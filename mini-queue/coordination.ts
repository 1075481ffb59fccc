import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { ResultRecord } from './broker.ts';
import { nextLink } from './canvas.ts';
import { type Envelope, encodeEnvelope, MAX_ENVELOPE_BYTES } from './envelope.ts';
import { errorMessage, UserError } from './errors.ts';
import { type QueueKeys, queueKeys } from './keys.ts';
import { DEFAULT_RESULT_TTL_SECONDS, PART_LABS, partFile, type Track } from './parts.ts';
import { connectRedis } from './redis/client.ts';
import { Scripts } from './redis/scripts.ts';
import type { RedisWatch } from './redis/watch.ts';

const HARNESS_LUA = new URL('./lua/', import.meta.url);

/** What chord-join-4.lua answered, by name (its header says what each means). */
export const JOIN_REPLIES = {
  '-1': 'missing',
  '0': 'counted-before',
  '1': 'counted',
  '2': 'fired',
  '3': 'failed',
  '4': 'decided-before',
  '5': 'too-big',
} as const;
export type JoinReply = (typeof JOIN_REPLIES)[keyof typeof JOIN_REPLIES];

export interface CoordinationOptions {
  queue: string;
  url?: string;
  /** Where the chord join comes from (lab 07). @default 'solutions' */
  track?: Track;
  /** How long chords and once-keys are kept, s: as long as results. */
  ttlSeconds?: number;
  watch?: RedisWatch;
  /** Told what it could not do, which the worker goes on without (a chord that expired). */
  warn?: (message: string) => void;
}

/**
 * The worker's side of canvas (canvas.ts): what a chord member or a chain link does once it has run for good, before
 * its ack. Its own connection and scripts, opened at the first such message: a worker that runs only plain tasks
 * never opens them.
 *
 * Before the ack, not after: a crash between this and the ack redelivers the message, which runs again and comes
 * back here, where it changes nothing (the join counts each member once; the next link has a once-key). After the
 * ack, a crash in between would lose the step for good.
 */
export class Coordination {
  private readonly keys: QueueKeys;
  private opened: Promise<{ redis: Redis; scripts: Scripts }> | undefined;
  private closed = false;

  constructor(private readonly options: CoordinationOptions) {
    this.keys = queueKeys(options.queue);
  }

  /** Whether a message has a step here: zero cost for plain ones (two property reads). */
  static concerns(envelope: Envelope): boolean {
    return envelope.chord !== undefined || envelope.chain !== undefined;
  }

  /**
   * The step of a message settled for good (SUCCESS, or FAILURE with no retry left): a chord member joins its
   * chord; a chain link that succeeded enqueues the next one. Throws what the caller must not ack past: a Redis
   * error (the message is redelivered and comes back), or a UserError (a TODO not done, a script that cannot run).
   */
  async settled(envelope: Envelope, record: ResultRecord): Promise<{ join?: JoinReply; next?: boolean }> {
    const out: { join?: JoinReply; next?: boolean } = {};
    if (envelope.chord) out.join = await this.join(envelope, record);
    if (envelope.chain && record.state === 'SUCCESS') out.next = await this.next(envelope, record.result);
    return out;
  }

  private async join(envelope: Envelope, record: ResultRecord): Promise<JoinReply> {
    const { id, index } = envelope.chord!;
    const { scripts } = await this.open();
    const k = this.keys;
    const ok = record.state === 'SUCCESS';
    const payload = ok
      ? (JSON.stringify(record.result) ?? 'null')
      : JSON.stringify({
          name: 'ChordFailed',
          message: `member #${index} (${envelope.task} ${envelope.id}) failed: ${record.error?.name ?? 'Error'}: ${record.error?.message ?? 'unknown'}; the callback never runs`,
        });
    const reply = await scripts.run(
      'chord-join',
      [k.chord(id), k.chordResults(id), k.waiting, k.result(id)],
      [index, ok ? 'ok' : 'failed', payload, this.ttl, MAX_ENVELOPE_BYTES],
    );
    const named = JOIN_REPLIES[String(reply) as keyof typeof JOIN_REPLIES];
    if (named === undefined)
      throw new UserError(
        `chord-join-4.lua answered ${String(reply)}, none of the replies its header lists (-1 to 5)`,
      );
    if (named === 'missing')
      this.options.warn?.(
        `chord ${id}: member #${index} finished, but the chord is gone (expired or never made)`,
      );
    return named;
  }

  private async next(envelope: Envelope, result: unknown): Promise<boolean> {
    const { redis, scripts } = await this.open();
    const k = this.keys;
    const link = envelope.chain![0]!;
    let raw: string;
    try {
      raw = encodeEnvelope(nextLink(envelope, result)!);
    } catch (error) {
      // The result cannot travel (too big): the chain stops here, and the link that cannot run says why.
      const record: ResultRecord = {
        id: link.id,
        task: link.task,
        state: 'FAILURE',
        attempt: 0,
        enqueuedAt: Date.now(),
        error: {
          name: 'ChainBroken',
          message: `the result of ${envelope.task} ${envelope.id}: ${errorMessage(error)}`,
        },
      };
      await redis.set(k.result(link.id), JSON.stringify(record), 'EX', this.ttl, 'NX');
      return false;
    }
    return (await scripts.run('chain-next', [k.queued(link.id), k.waiting], [raw, this.ttl])) === 1;
  }

  private get ttl(): number {
    return this.options.ttlSeconds ?? DEFAULT_RESULT_TTL_SECONDS;
  }

  private open(): Promise<{ redis: Redis; scripts: Scripts }> {
    if (this.opened) return this.opened;
    // After a cold stop a task may still finish here: its message was given back, and nothing may reconnect.
    if (this.closed) return Promise.reject(new Error('the worker has stopped'));
    const opening = (async () => {
      const track = this.options.track ?? 'solutions';
      const lab = partFile(track, PART_LABS.coordination, 'lua/');
      if (!existsSync(fileURLToPath(lab)))
        throw new UserError(
          `The chord join is not in this kit yet (no ${track}/${PART_LABS.coordination}/lua/).`,
        );
      const redis = await connectRedis({
        url: this.options.url,
        name: `mq:${this.options.queue}:coordination`,
        ...(this.options.watch ? { watch: this.options.watch } : {}),
      });
      return { redis, scripts: new Scripts(redis, [HARNESS_LUA, lab]) };
    })();
    this.opened = opening;
    // A connection that failed is not kept: the next message tries again.
    opening.catch(() => {
      if (this.opened === opening) this.opened = undefined;
    });
    return opening;
  }

  /** Closes the connection, if one was opened. Nothing is in flight by then that a worker would still ack. */
  async close(): Promise<void> {
    this.closed = true;
    const opened = await this.opened?.catch(() => undefined);
    this.opened = undefined;
    opened?.redis.disconnect();
  }
}
