import type { Broker, ResultRecord } from './broker.ts';

/**
 * A broker with the worker's fast path (`new Worker({ fastPath: true })`, see WorkerOptions.fastPath): the lab 00
 * contract plus two shortcuts for a busy worker. Every broker built on BrokerBase has them.
 *
 *   free slots ──reserveReady(k)──▶ up to k ready messages, leased, in one round trip (a Lua script)
 *              └─ nothing ready ──▶ reserve(max, blockMs): the broker's own blocking path
 */
export interface FastBroker extends Broker {
  /**
   * Moves up to `max` messages from waiting to active, each with its lease, in one atomic step and without
   * waiting: [] when waiting is empty. Sent on the connection the acks use, so it runs after every ack sent
   * before it.
   */
  reserveReady(max: number): Promise<string[]>;
  /** Broker.ack, with `encoded` = `JSON.stringify(record)` when the caller has it already. */
  ack(raw: string, record: ResultRecord, encoded?: string): Promise<boolean>;
  /**
   * ack(), sent together with the other acks of this turn of the event loop, in one round trip; a reserveReady()
   * called meanwhile goes after them.
   */
  ackSoon(raw: string, record: ResultRecord, encoded?: string): Promise<boolean>;
}

/** Whether a broker offers the fast path. */
export function isFastBroker(broker: Broker): broker is FastBroker {
  return typeof (broker as Partial<FastBroker>).reserveReady === 'function';
}
