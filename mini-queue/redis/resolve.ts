import { UserError } from '../errors.ts';
import { defaultRedisUrl, noRedisMessage, parseRedisAddress, parseRedisUrl, redact } from './address.ts';
import { findRedisServer, startEmbeddedRedis } from './embedded.ts';
import { answers } from './probe.ts';

let resolved: Promise<string> | undefined;

/**
 * The Redis URL to use, decided once per process:
 * 1. REDIS_URL when set (never second-guessed);
 * 2. the default address when something answers there;
 * 3. a private redis-server on a free loopback port, when one is on PATH (announced in one line);
 * 4. otherwise a UserError that says what to do.
 * Once an embedded Redis is up, REDIS_URL is set to it, so child processes and threads use the same one.
 */
export function resolveRedisUrl(): Promise<string> {
  resolved ??= decide();
  return resolved;
}

async function decide(): Promise<string> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) {
    parseRedisAddress(fromEnv);
    return fromEnv;
  }
  const fallback = defaultRedisUrl();
  const address = parseRedisUrl(fallback, 'the default Redis URL');
  if (await answers(address.hostname, Number(address.port || 6379))) return fallback;
  const executable = findRedisServer();
  if (!executable) throw new UserError(noRedisMessage(fallback));
  try {
    const embedded = await startEmbeddedRedis(executable);
    process.env.REDIS_URL = embedded.url;
    console.error(
      `mini-queue: nothing answers at ${redact(fallback)}; started a private Redis at ${embedded.url} (gone when this process ends).`,
    );
    return embedded.url;
  } catch (error) {
    throw new UserError(`${noRedisMessage(fallback)} (${executable} failed: ${(error as Error).message})`);
  }
}
