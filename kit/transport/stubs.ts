/**
 * Lab 08's stubs that run inside amqplib's callbacks, brought to where a person sees them.
 *
 * deliver() runs in the consumer callback of each message and channelLost() in a channel's 'close' event, both
 * called by amqplib. What they throw (a TODO not done, a TypeError in a half-written fill) amqplib catches and
 * turns into a channel error: the channel closes, the link opens another, the next message throws again, and
 * the worker waits for messages that never come, with a warning a line each time. So the demo and the check wrap
 * those two methods of the track's AmqpBroker: the first error either throws is kept, and that broker's next
 * reserve() rejects with it, as a stub in push() or consume() does at once. The worker then stops on it, and
 * the error still carries the learner's own file:line.
 */
import type { Broker } from '../../mini-queue/broker.ts';
import { PART_LABS, partFile, type Track } from '../../mini-queue/parts.ts';

const WRAPPED = Symbol.for('mini-queue.lab08.stubs-surfaced');
const FAILED = Symbol.for('mini-queue.lab08.callback-error');

type Method = (this: Surfaced, ...args: unknown[]) => unknown;
interface Surfaced {
  [FAILED]?: unknown;
}

/** Wraps the track's AmqpBroker once per process (idempotent); every broker of it opened after is covered. */
export async function surfaceCallbackErrors(track: Track): Promise<void> {
  const module = (await import(partFile(track, PART_LABS.transport, 'broker.ts').href)) as {
    AmqpBroker?: { prototype: Record<string | symbol, unknown> };
  };
  const proto = module.AmqpBroker?.prototype;
  if (!proto || proto[WRAPPED]) return;
  proto[WRAPPED] = true;
  for (const name of ['deliver', 'channelLost']) {
    const own = proto[name] as Method | undefined;
    if (typeof own !== 'function') continue;
    proto[name] = function (this: Surfaced, ...args: unknown[]) {
      try {
        return own.apply(this, args);
      } catch (error) {
        this[FAILED] ??= error;
        return undefined;
      }
    } satisfies Method;
  }
  const reserve = proto.reserve as Broker['reserve'];
  proto.reserve = async function (this: Surfaced & Broker, max: number, blockMs: number) {
    if (this[FAILED] !== undefined) throw this[FAILED];
    const taken = await reserve.call(this, max, blockMs);
    if (this[FAILED] !== undefined) throw this[FAILED];
    return taken;
  };
}

/** What deliver() or channelLost() of this broker threw first, if anything. */
export function callbackError(broker: Broker): unknown {
  return (broker as Surfaced)[FAILED];
}
