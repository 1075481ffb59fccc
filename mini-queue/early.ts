import type { Broker } from './broker.ts';
import type { Envelope } from './envelope.ts';

/** A broker that can give a held message back to the delayed set (every broker built on BrokerBase). */
export interface DeferringBroker extends Broker {
  defer(raw: string, dueAt: number): Promise<boolean>;
}

export function canDefer(broker: Broker): broker is DeferringBroker {
  return typeof (broker as Partial<DeferringBroker>).defer === 'function';
}

/**
 * A message taken from waiting before its eta. The queue keeps every delayed run in the delayed set (countdown,
 * eta, a retry's backoff) and promote() moves it to waiting once due; a message that reached waiting early
 * (pushed by hand, or by a producer that does not know the delayed set) is put there too, unrun, and runs when it
 * is due like any countdown task, "not before its eta" as the worker's clock reads it. A broker that cannot put
 * it back buries it with the reason instead of running it early.
 *
 * Returns undefined when the message is due (run it), else what was done with it.
 */
export async function holdIfEarly(
  broker: Broker,
  raw: string,
  envelope: Envelope,
  now = Date.now(),
): Promise<{ deferred: true } | { buried: string } | undefined> {
  if (envelope.eta === undefined || envelope.eta <= now) return undefined;
  if (canDefer(broker)) {
    await broker.defer(raw, envelope.eta);
    return { deferred: true };
  }
  const reason = `taken before its eta (${envelope.eta} ms) by a broker with no defer() to hold it`;
  await broker.bury(raw, reason);
  return { buried: reason };
}
