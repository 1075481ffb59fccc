import { UserError } from '../errors.ts';
import { answers } from '../redis/probe.ts';

/**
 * Which transport carries the task messages. Results, counters, chords and everything else stay in Redis either
 * way (Celery's usual pairing: RabbitMQ as the broker, Redis as the result backend).
 *
 * - `BROKER_URL=amqp://…` (or `amqps://`): RabbitMQ at that address, never second-guessed;
 * - else `BROKER=rabbitmq` (what `--transport rabbitmq` sets): RabbitMQ at DEFAULT_AMQP_URL when something answers
 *   there, else one line saying how to get one;
 * - else Redis, as always (REDIS_URL).
 */
export type Transport = 'redis' | 'rabbitmq';

/** RabbitMQ's out-of-the-box address and account (the guest user may only log in from loopback). */
export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

/** What `--transport` and `BROKER` take. */
export const TRANSPORTS: readonly Transport[] = ['redis', 'rabbitmq'];

/** The transport this process uses, from the environment; throws a UserError for a value it cannot use. */
export function chosenTransport(env: NodeJS.ProcessEnv = process.env): Transport {
  const url = env.BROKER_URL;
  if (url) {
    parseAmqpUrl(url);
    return 'rabbitmq';
  }
  const named = env.BROKER?.toLowerCase();
  if (named === undefined || named === '' || named === 'redis') return 'redis';
  if (named === 'rabbitmq' || named === 'amqp') return 'rabbitmq';
  throw new UserError(`BROKER (or --transport) must be 'redis' or 'rabbitmq', got '${env.BROKER}'`);
}

/** `--transport NAME`: the same as BROKER=NAME for this process and the processes it starts. */
export function selectTransport(name: string): void {
  if (!(TRANSPORTS as readonly string[]).includes(name)) {
    throw new UserError(`--transport must be 'redis' or 'rabbitmq', got '${name}'`);
  }
  process.env.BROKER = name;
}

export function parseAmqpUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError(
      `BROKER_URL must look like amqp://user:password@host:5672/vhost, got '${redactAmqp(url)}'`,
    );
  }
  if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') {
    throw new UserError(
      `BROKER_URL must be an amqp:// or amqps:// URL (RabbitMQ), got '${redactAmqp(url)}'. For Redis, leave BROKER_URL unset and use REDIS_URL.`,
    );
  }
  if (!parsed.hostname) throw new UserError(`BROKER_URL has no host: '${redactAmqp(url)}'`);
  return parsed;
}

/** The URL with its password masked, for messages. */
export function redactAmqp(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

export function noRabbitMessage(url: string): string {
  return (
    `No RabbitMQ answers at ${redactAmqp(url)}: start one with \`docker run -d -p 5672:5672 rabbitmq:3\`, ` +
    '`sudo apt-get install rabbitmq-server` or `brew install rabbitmq`, or set BROKER_URL=amqp://user:password@host:5672.'
  );
}

let resolved: Promise<string> | undefined;

/**
 * The AMQP URL to use, decided once per process: BROKER_URL when set, else the default address when something
 * answers there (then BROKER_URL is set to it, so child processes and threads follow), else a UserError.
 */
export function resolveAmqpUrl(): Promise<string> {
  resolved ??= (async () => {
    const fromEnv = process.env.BROKER_URL;
    if (fromEnv) {
      parseAmqpUrl(fromEnv);
      return fromEnv;
    }
    const address = new URL(DEFAULT_AMQP_URL);
    if (!(await answers(address.hostname, Number(address.port))))
      throw new UserError(noRabbitMessage(DEFAULT_AMQP_URL));
    process.env.BROKER_URL = DEFAULT_AMQP_URL;
    return DEFAULT_AMQP_URL;
  })();
  resolved.catch(() => {
    resolved = undefined;
  });
  return resolved;
}
