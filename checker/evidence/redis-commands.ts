/**
 * Evidence from Redis itself, for checks that must see *how* something was done, not only the end state: which
 * commands ran (MONITOR), and whether a call's promise settled before its command ever reached Redis.
 * Both are exact, not timed: a busy laptop makes them slower, never wrong.
 */
import type { Redis } from 'ioredis';
import { connectRedis, decorateConnections } from '../../mini-queue/redis/client.ts';
import { monitorRedis } from '../monitor.ts';

export interface CommandLog {
  /** Every command seen so far that passed the filter, as its arguments (the name upper-cased). */
  readonly commands: string[][];
  /**
   * Resolves once every command Redis ran before this call is in `commands`: it runs a marker command and waits
   * until MONITOR shows it (MONITOR streams in execution order), so a slow machine delays the log, never cuts it.
   */
  settle(): Promise<void>;
  close(): void;
}

/** Watches the commands Redis runs, keeping those for which `keep(args)` holds (args[0] is the command name). */
export async function watchCommands(keep: (args: string[]) => boolean): Promise<CommandLog> {
  const commands: string[][] = [];
  const marker = `mq-check-marker-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  let seenMarkers = 0;
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const monitor = await monitorRedis((args) => {
    if (args[0]?.toUpperCase() === 'ECHO' && args[1] === marker) {
      seenMarkers++;
      for (const waiter of waiters.filter((w) => w.count <= seenMarkers)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
      return;
    }
    if (keep(args)) commands.push([args[0]!.toUpperCase(), ...args.slice(1)]);
  });
  let sent = 0;
  let probe: Redis | undefined;
  return {
    commands,
    async settle() {
      probe ??= await connectRedis({ name: 'mq-check-marker' });
      const count = ++sent;
      const seen = new Promise<void>((resolve) => waiters.push({ count, resolve }));
      await probe.echo(marker);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        seen,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('MONITOR did not show the marker command within 20 s')),
            20_000,
          );
        }),
      ]).finally(() => clearTimeout(timer));
    },
    close() {
      monitor.close();
      probe?.disconnect();
    },
  };
}

export interface CommandGate {
  /** Resolves when the first matching command is held back (it has not reached Redis). */
  readonly held: Promise<void>;
  /** How many matching commands are held right now. */
  readonly holding: number;
  /** Sends everything held, in order, and lets later commands through. */
  release(): void;
  /** Connections opened from now on are left alone; releases what is held. */
  uninstall(): void;
}

/**
 * Holds back the matching commands (and, to keep each connection's order, whatever that connection sends after
 * them) on every connection opened from now on, until release(). With a push's LPUSH held, a push() that resolves
 * anyway has not waited for Redis: its caller would go on before the message is in the queue.
 */
export function holdCommands(match: (name: string, args: unknown[]) => boolean): CommandGate {
  let open = false;
  let holding = 0;
  let heldOne!: () => void;
  const held = new Promise<void>((resolve) => {
    heldOne = resolve;
  });
  const queues: Array<Array<() => void>> = [];
  const release = () => {
    open = true;
    for (const queue of queues) for (const send of queue.splice(0)) send();
    holding = 0;
  };
  const undecorate = decorateConnections((client) => {
    const send = client.sendCommand.bind(client) as (...args: unknown[]) => unknown;
    const queue: Array<() => void> = [];
    queues.push(queue);
    client.sendCommand = ((
      command: { name: string; args: unknown[]; promise: Promise<unknown> },
      ...rest: unknown[]
    ) => {
      const go = () => {
        send(command, ...rest);
      };
      if (open) go();
      else if (queue.length > 0) queue.push(go);
      else if (match(String(command.name).toUpperCase(), command.args)) {
        holding++;
        queue.push(go);
        heldOne();
      } else go();
      return command.promise;
    }) as unknown as Redis['sendCommand'];
  });
  return {
    held,
    get holding() {
      return holding;
    },
    release,
    uninstall() {
      undecorate();
      release();
    },
  };
}
