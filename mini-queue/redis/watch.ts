import type { Redis } from 'ioredis';
import { redact } from './address.ts';

/**
 * Watches the connections one Queue or one Worker holds to its Redis: whether one of them is down, since when,
 * and why (the last connection error). The producer words its errors with it and waits on it for a connection to
 * come back; the worker says once when Redis has been unreachable for a few seconds, and once when it is back.
 *
 * A connection is down from its 'close' to its next 'ready'. A connection closed on purpose (quit, disconnect)
 * says 'end' in the same tick as its 'close': it is forgotten at once, before any report could fire.
 */
export class RedisWatch {
  private readonly down = new Set<Redis>();
  private since: number | undefined;
  private cause: string | undefined;
  private url: string | undefined;
  private readonly changed = new Set<() => void>();

  /** Watches `client`, a connection to `url`, from now on. */
  add(client: Redis, url: string): void {
    this.url = url;
    client.on('error', (error: Error) => {
      this.cause = error.message;
    });
    client.on('close', () => this.mark(client, true));
    client.on('ready', () => this.mark(client, false));
    client.on('end', () => this.mark(client, false));
  }

  /** Since when a connection has been down (epoch ms), or undefined while all are up. */
  get downSince(): number | undefined {
    return this.since;
  }

  /** `Redis at redis://host:port` (without its password), or plain `Redis` before any connection. */
  get where(): string {
    return this.url === undefined ? 'Redis' : `Redis at ${redact(this.url)}`;
  }

  /** Why the connection is down, as the last connection error said (or that it closed). */
  get why(): string {
    return this.cause ?? 'the connection closed';
  }

  /** Resolves once no watched connection is down, or after `ms`. */
  up(ms: number): Promise<void> {
    if (this.down.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.changed.delete(check);
        resolve();
      };
      const check = () => {
        if (this.down.size === 0) done();
      };
      const timer = setTimeout(done, ms);
      this.changed.add(check);
    });
  }

  /**
   * Calls `say` once when a connection has been down for `afterMs`, and once when all are back; quiet about a
   * shorter outage (a dropped connection that reconnects at once is no news). Returns the function that stops it.
   */
  report(afterMs: number, say: (line: string) => void): () => void {
    let timer: NodeJS.Timeout | undefined;
    let said: number | undefined;
    const check = () => {
      const since = this.since;
      if (since !== undefined && said === undefined && timer === undefined) {
        timer = setTimeout(
          () => {
            timer = undefined;
            if (this.since !== since) return;
            said = since;
            say(
              `${this.where} unreachable for ${seconds(Date.now() - since)} (${this.why}); waiting for it to come back`,
            );
          },
          Math.max(0, since + afterMs - Date.now()),
        );
        timer.unref();
      } else if (since === undefined) {
        clearTimeout(timer);
        timer = undefined;
        if (said !== undefined) say(`${this.where} is back after ${seconds(Date.now() - said)}`);
        said = undefined;
      }
    };
    this.changed.add(check);
    check();
    return () => {
      clearTimeout(timer);
      this.changed.delete(check);
    };
  }

  private mark(client: Redis, isDown: boolean): void {
    if (isDown) this.down.add(client);
    else this.down.delete(client);
    if (this.down.size > 0) this.since ??= Date.now();
    else {
      this.since = undefined;
      this.cause = undefined;
    }
    for (const listener of [...this.changed]) listener();
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
