/**
 * Lab 00 — the broker: a reliable queue on Redis.
 *
 * Goal: the message transport Celery needs (kombu's Redis transport, made reliable). Producers push task
 * messages; workers reserve them by moving them atomically to an in-flight list; an ack settles them; a worker
 * that dies gives back what it held once its lease (the visibility timeout) runs out.
 *
 * Pass: `npx tsx labs/00-broker` ends with N/N tasks done, and `npm run check -- 00` passes.
 *
 * Try this to break it: in reserve(), replace BLMOVE with BRPOP and a separate LPUSH to `active`, then run
 * `npm run check -- 00`: check 00.2 fails, since a worker that dies between the two loses its message for good.
 */
import { BrokerBase, type BrokerConnections } from '../../mini-queue/broker-base.ts';

export class RedisBroker extends BrokerBase {
  constructor(connections: BrokerConnections) {
    super(connections, new URL('./lua/', import.meta.url));
  }

  async push(raws: string[]): Promise<void> {
    if (raws.length === 0) return;
    // (00.1) LPUSH on the left, workers take from the right, so the list is first in, first out.
    await this.redis.lpush(this.keys.waiting, ...raws);
  }

  async reserve(max: number, blockMs: number): Promise<string[]> {
    const k = this.keys;
    // (00.2) BLMOVE is one atomic step, so a message is always in Redis, in waiting or in active,
    // never only in the memory of a worker that may die (kombu's BRPOP-then-save window, celery#3541).
    const first = await this.blocking.blmove(k.waiting, k.active, 'RIGHT', 'LEFT', blockMs / 1000);
    if (first === null) return [];
    const taken = [first];
    if (max > 1) {
      // The rest without blocking, in one round trip: reserving a batch is the prefetch of Celery's worker.
      const more = this.redis.pipeline();
      for (let i = 1; i < max; i++) more.lmove(k.waiting, k.active, 'RIGHT', 'LEFT');
      for (const [, raw] of (await more.exec()) ?? []) if (typeof raw === 'string') taken.push(raw);
    }
    // A crash right here leaves messages in active without a lease: recover() gives them one, so they still
    // come back once it runs out.
    const deadline = this.leaseDeadline();
    await this.redis.zadd(k.leases, ...taken.flatMap((raw) => [deadline, raw]));
    return taken;
  }
}
