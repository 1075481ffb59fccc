/**
 * The Redis ceiling's client (section 5): pre-encoded commands on plain sockets, replies counted, not parsed into
 * objects, so the figures measure Redis and the loopback, not a client library.
 */
import { connect, type Socket } from 'node:net';
import { authCommand, encodeCommand } from '../mini-queue/redis/resp.ts';

/**
 * A raw connection. One permanent 'data' handler counts reply lines down and calls back when a batch is in: the
 * timed loop then costs no listener or promise per batch, which would show in the figures as Node-side overhead.
 */
export class Connection {
  private left = 0;
  private done: ((error?: Error) => void) | undefined;

  constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      if (chunk[0] === 45 /* '-' */) return this.finish(new Error(chunk.toString().trim()));
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) this.left--;
      if (this.left <= 0) this.finish();
    });
    socket.on('error', (error) => this.finish(error));
  }

  /** Writes one buffer; `done` runs once `lines` reply lines are back (LPUSH: 1 per reply; RPOP of 'x': 2). */
  private send(data: Buffer, lines: number, done: (error?: Error) => void): void {
    this.left = lines;
    this.done = done;
    this.socket.write(data);
  }

  /** Sends `data` again each time its replies are in, while `more(batchesSent)`; resolves with batches sent. */
  repeat(data: Buffer, lines: number, more: (sent: number) => boolean): Promise<number> {
    return new Promise((resolve, reject) => {
      let sent = 0;
      const next = (error?: Error) => {
        if (error) reject(error);
        else if (!more(sent)) resolve(sent);
        else {
          sent++;
          this.send(data, lines, next);
        }
      };
      next();
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private finish(error?: Error): void {
    const done = this.done;
    this.done = undefined;
    done?.(error);
  }
}

/** A connection to `url`, authenticated and on its database, as a client library would leave it. */
export async function open(url: URL): Promise<Connection> {
  const socket = connect({ host: url.hostname, port: Number(url.port || 6379) });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const connection = new Connection(socket);
  const setup = [authCommand(url), url.pathname.length > 1 ? ['SELECT', url.pathname.slice(1)] : undefined];
  const commands = setup.filter((c) => c !== undefined);
  if (commands.length > 0) {
    const once = (sent: number) => sent === 0;
    await connection.repeat(Buffer.from(commands.map(encodeCommand).join('')), commands.length, once);
  }
  return connection;
}
