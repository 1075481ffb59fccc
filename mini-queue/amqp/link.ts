import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { errorMessage, UserError } from '../errors.ts';
import { noRabbitMessage, redactAmqp } from './address.ts';

/** A consumer: set up on each consuming channel the link opens, told when that channel is lost. */
export interface ConsumerHooks {
  open(channel: Channel): Promise<void>;
  lost(channel: Channel): void;
}

/** Reconnect delays: from RECONNECT_MIN_MS, doubling, at most RECONNECT_MAX_MS. */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;
/**
 * Heartbeats find a server that went away without closing the socket (a cable pulled, a VM paused). A worker
 * killed with kill -9 is noticed at once anyway: the kernel closes its socket.
 */
const HEARTBEAT_S = 15;

/**
 * One AMQP connection and its channels, reopened after a loss. Two channels, each with one job:
 * - publishing: a confirm channel (producers, retries, delays); opened on first use, and again on the next use
 *   after a loss (a publish in flight then fails, and its caller decides);
 * - consuming: opened by consume(), and reopened by the link itself after a loss, with a backoff, until close().
 *   A channel error (e.g. an ack for a tag that channel never gave) closes only that channel, so they stay apart.
 *
 * Delivery tags are numbers a channel hands out; they mean nothing on another channel. So the link never carries
 * a delivery over: it tells the consumer the channel is lost (hooks.lost), and the consumer drops every delivery
 * of it. The server has requeued them already.
 */
export class AmqpLink {
  private connection: Promise<ChannelModel> | undefined;
  private publisher: Promise<ConfirmChannel> | undefined;
  private consumerHooks: ConsumerHooks | undefined;
  private consuming: Channel | undefined;
  private reopening: NodeJS.Timeout | undefined;
  private reopenDelay = RECONNECT_MIN_MS;
  private closed = false;
  private consumerLosses = 0;
  /** The channels this link has seen closed: a delivery of one of them can no longer be settled. */
  private readonly lostChannels = new WeakSet<Channel>();

  constructor(
    readonly url: string,
    /** Shown in RabbitMQ's connection list (rabbitmqctl list_connections client_properties). */
    private readonly name: string,
    /** Told what went wrong in the background (a lost connection, a failed reopen). */
    private readonly warn: (message: string) => void = () => {},
  ) {}

  /** Connects now (the first call), so a wrong URL or a stopped server is reported where the broker opens. */
  async connect(): Promise<void> {
    await this.model();
  }

  /** The confirm channel for publishing. */
  publishing(): Promise<ConfirmChannel> {
    if (this.closed) return Promise.reject(new Error('the AMQP link is closed'));
    if (!this.publisher) {
      const opening = this.model().then(async (model) => {
        const channel = await model.createConfirmChannel();
        channel.on('error', () => {});
        channel.once('close', () => {
          this.lostChannels.add(channel);
          if (this.publisher === opening) this.publisher = undefined;
        });
        return channel;
      });
      this.publisher = opening;
      opening.catch(() => {
        if (this.publisher === opening) this.publisher = undefined;
      });
    }
    return this.publisher;
  }

  /**
   * Runs `use` on a channel of its own, closed after: for what may fail with a channel error on purpose (a
   * passive declare of a queue that may be gone closes its channel with 404).
   */
  async scratch<T>(use: (channel: Channel) => Promise<T>): Promise<T> {
    const channel = await (await this.model()).createChannel();
    channel.on('error', () => {});
    try {
      return await use(channel);
    } finally {
      await channel.close().catch(() => {});
    }
  }

  /** Starts consuming: `hooks.open` runs on a fresh channel now and after every loss, until close(). */
  async consume(hooks: ConsumerHooks): Promise<void> {
    if (this.consumerHooks) throw new Error('this AMQP link has a consumer already');
    this.consumerHooks = hooks;
    try {
      await this.openConsumer();
    } catch (error) {
      // The first open failed (no such queue, a hook that throws): nothing consumes, and a later call may try again.
      this.consumerHooks = undefined;
      throw error;
    }
  }

  /** Whether a channel is still open as far as this link knows (its close event has not come). */
  isOpen(channel: Channel): boolean {
    return !this.lostChannels.has(channel);
  }

  /** How many consuming channels this link has lost (closed by the server, by an error, or with the connection). */
  get consumerChannelsLost(): number {
    return this.consumerLosses;
  }

  /** Closes the connection: every unacked delivery goes back to its queue (RabbitMQ's doing). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reopening);
    const model = await this.connection?.catch(() => undefined);
    this.connection = undefined;
    await model?.close().catch(() => {});
  }

  /** Severs the connection's socket without a goodbye, as a network failure would (for fault drills and tests). */
  async sever(): Promise<void> {
    const model = await this.connection?.catch(() => undefined);
    const stream = (model as unknown as { connection?: { stream?: { destroy(error?: Error): void } } })
      ?.connection?.stream;
    // With an error: amqplib reads a socket's 'error' (or 'end') as the connection lost, not its 'close'.
    stream?.destroy(new Error('severed on purpose'));
  }

  private async openConsumer(): Promise<void> {
    const hooks = this.consumerHooks!;
    const model = await this.model();
    const channel = await model.createChannel();
    let ready = false;
    channel.on('error', (error: Error) => this.warn(`AMQP consumer channel: ${errorMessage(error)}`));
    channel.once('close', () => {
      this.lostChannels.add(channel);
      this.consumerLosses++;
      if (this.consuming === channel) this.consuming = undefined;
      // Deliveries may have come before a setup that failed: they are as lost as any.
      hooks.lost(channel);
      // A channel lost while being set up: the open below fails, and whoever called it decides.
      if (ready) this.scheduleReopen();
    });
    this.consuming = channel;
    try {
      await hooks.open(channel);
    } catch (error) {
      await channel.close().catch(() => {});
      throw error;
    }
    ready = true;
    this.reopenDelay = RECONNECT_MIN_MS;
  }

  private scheduleReopen(): void {
    if (this.closed || this.reopening) return;
    this.reopening = setTimeout(() => {
      this.reopening = undefined;
      if (this.closed || this.consuming) return;
      this.openConsumer().catch((error: unknown) => {
        this.warn(`AMQP consumer: ${errorMessage(error)}; trying again in ${this.reopenDelay} ms`);
        this.scheduleReopen();
      });
      this.reopenDelay = Math.min(this.reopenDelay * 2, RECONNECT_MAX_MS);
    }, this.reopenDelay);
    this.reopening.unref?.();
  }

  private model(): Promise<ChannelModel> {
    if (this.closed) return Promise.reject(new Error('the AMQP link is closed'));
    if (!this.connection) {
      const opening = amqp
        .connect(withHeartbeat(this.url), { noDelay: true, clientProperties: { connection_name: this.name } })
        .then((model) => {
          model.on('error', (error: Error) => this.warn(`AMQP connection: ${errorMessage(error)}`));
          model.once('close', () => {
            if (this.connection === opening) this.connection = undefined;
            if (!this.closed) this.warn('AMQP connection lost; reconnecting');
          });
          return model;
        })
        .catch((error: unknown) => {
          throw connectError(this.url, error);
        });
      this.connection = opening;
      opening.catch(() => {
        if (this.connection === opening) this.connection = undefined;
      });
    }
    return this.connection;
  }
}

/** The URL with a heartbeat, unless it names one itself (`?heartbeat=N`). */
function withHeartbeat(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(HEARTBEAT_S));
  return parsed.toString();
}

function connectError(url: string, error: unknown): Error {
  const code = (error as { code?: string }).code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT')
    return new UserError(noRabbitMessage(url));
  const message = errorMessage(error);
  if (/ACCESS_REFUSED|403/.test(message))
    return new UserError(
      `RabbitMQ at ${redactAmqp(url)} refused the login (${message}): check the user and password in BROKER_URL`,
    );
  if (/NOT_ALLOWED|vhost/i.test(message))
    return new UserError(`RabbitMQ at ${redactAmqp(url)} refused the virtual host: ${message}`);
  return new Error(`cannot connect to RabbitMQ at ${redactAmqp(url)}: ${message}`);
}
