import type { Redis } from 'ioredis';
import { random } from '../random.ts';

/**
 * Chaos for `npm run check -- --repeat N --seed S`: every command on this connection may wait a few random
 * milliseconds before it is sent, so interleavings that a quiet machine never produces (a reserve racing an ack,
 * a recover landing between two calls) happen, reproducibly for a seed. Commands keep their order on the
 * connection (one queue per connection), so MULTI blocks and pipelines stay intact.
 *
 * Only ever installed when MQ_CHAOS_SEED is set.
 */
export function injectChaos(client: Redis, seed: number): void {
  const next = random(seed);
  const send = client.sendCommand.bind(client);
  let queue: Promise<void> = Promise.resolve();
  client.sendCommand = ((command: { promise: Promise<unknown> }, ...rest: unknown[]) => {
    const delay = next() < 0.3 ? next() * 5 : 0;
    queue = queue
      .then(() => (delay > 0 ? new Promise<void>((resolve) => setTimeout(resolve, delay)) : undefined))
      .then(() => {
        (send as (...args: unknown[]) => unknown)(command, ...rest);
      });
    return command.promise;
  }) as unknown as Redis['sendCommand'];
}

let connections = 0;

/** The seed for the next connection of this process, or undefined when chaos is off. */
export function chaosSeed(): number | undefined {
  const base = process.env.MQ_CHAOS_SEED;
  if (base === undefined || base === '') return undefined;
  // Different connections of one run get different (but reproducible) sequences.
  return Number(base) * 1000 + connections++;
}
