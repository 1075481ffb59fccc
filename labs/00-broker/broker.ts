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
    // TODO(00.1): add the envelopes to the waiting list (this.keys.waiting) on the left side.
    this.todo(
      '00.1',
      'enqueued envelopes are dropped: nothing stores them, so the queue stays empty and no worker ever sees a message',
    );
  }

  async reserve(max: number, blockMs: number): Promise<string[]> {
    const k = this.keys;
    // TODO(00.2): move one message from the right of k.waiting to the left of k.active in one atomic step,
    // waiting up to blockMs for it (use this.blocking: it may block). Return [] if none came. Then give what you
    // took a lease: ZADD k.leases with this.leaseDeadline(). Take up to `max` (checks 00.3, 00.4 reserve 2).
    return this.todo(
      '00.2',
      'no worker ever gets a message: each must go from the queue to the in-flight list in one atomic step, since a worker may die at any moment, and carry a lease from then on',
    );
  }
}
