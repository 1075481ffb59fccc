import type { Redis } from 'ioredis';
import { random } from '../mini-queue/random.ts';
import { decorateConnections } from '../mini-queue/redis/client.ts';

/**
 * Chaos for `npm run check -- --repeat N --seed S`: every command on every Redis connection the spec opens may
 * wait a few random milliseconds before it is sent, so interleavings that a quiet machine never produces (a
 * reserve racing an ack, a recover landing between two calls) happen, reproducibly for a seed. Commands keep
 * their order on a connection (one queue per connection), so MULTI blocks and pipelines stay intact.
 *
 * Installed through the chassis's connection hook (decorateConnections), by checker/spec-setup.ts.
 */
export interface RedisChaos {
  /** Commands sent on decorated connections so far. */
  readonly commands: number;
  /** How many of them were held back. */
  readonly delayed: number;
  /** Connections opened from now on are left alone (those already open keep their delays). */
  uninstall(): void;
}

/** Delays about 30% of commands by up to 5 ms, drawn from `seed`. */
export function installRedisChaos(seed: number): RedisChaos {
  const counts = { commands: 0, delayed: 0 };
  let connections = 0;
  const uninstall = decorateConnections((client) => {
    // Different connections of one run get different (but reproducible) sequences.
    delayCommands(client, random(seed * 1000 + connections++), counts);
  });
  return {
    get commands() {
      return counts.commands;
    },
    get delayed() {
      return counts.delayed;
    },
    uninstall,
  };
}

function delayCommands(
  client: Redis,
  next: () => number,
  counts: { commands: number; delayed: number },
): void {
  const send = client.sendCommand.bind(client);
  // Each command is sent after the one before it (delayed or not): the connection's order is kept.
  let queue: Promise<void> = Promise.resolve();
  client.sendCommand = ((command: { promise: Promise<unknown> }, ...rest: unknown[]) => {
    const delay = next() < 0.3 ? next() * 5 : 0;
    counts.commands++;
    if (delay > 0) counts.delayed++;
    queue = queue
      .then(() => (delay > 0 ? new Promise<void>((resolve) => setTimeout(resolve, delay)) : undefined))
      .then(() => {
        (send as (...args: unknown[]) => unknown)(command, ...rest);
      });
    return command.promise;
  }) as unknown as Redis['sendCommand'];
}
