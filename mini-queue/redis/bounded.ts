import { UserError } from '../errors.ts';
import type { RedisWatch } from './watch.ts';

/** A producer call gave up: Redis was unreachable, or did not answer, within the call's deadline. */
export class RedisUnavailableError extends UserError {
  override name = 'RedisUnavailableError';
  constructor(
    message: string,
    /** Why, without what gave up: `Redis at redis://… is unreachable (connect ECONNREFUSED …)`. */
    readonly reason: string,
  ) {
    super(message);
  }
}

/** ioredis refused the command without sending it: the connection is down and queues nothing (`failFast`). */
function unsent(error: unknown): boolean {
  return error instanceof Error && error.message.includes("Stream isn't writeable");
}

/**
 * Runs `attempt` (one producer call on a `failFast` connection) with a deadline of `ms`, so no call waits on
 * Redis longer than it was told to, whatever Redis does.
 *
 * - An attempt refused unsent (the connection is down) is made again once `watch` sees the connection back,
 *   while time is left: a Redis restart shorter than the deadline costs a delay, not an error.
 * - An attempt still waiting at the deadline is left behind: its command may have been sent and may still be
 *   applied (a hung Redis, a connection that dropped after the write), and the error says so when `write`.
 * - Any other error (a script error, a refused first connection) is the caller's at once.
 */
export async function bounded<T>(
  what: string,
  ms: number,
  watch: RedisWatch,
  attempt: () => Promise<T>,
  options: { write?: boolean } = {},
): Promise<T> {
  const deadline = Date.now() + ms;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), ms);
  });
  let refused = false;
  try {
    // Never a new attempt past the deadline: the caller is told it gave up, so nothing may be sent after that.
    while (Date.now() < deadline) {
      refused = false;
      const outcome = await Promise.race([
        attempt().then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        ),
        expired,
      ]);
      if (outcome === 'expired') break;
      if ('value' in outcome) return outcome.value;
      if (!unsent(outcome.error)) throw outcome.error;
      refused = true;
      const left = deadline - Date.now();
      // Wait for the connection, and at least a moment: it can refuse writes before its 'close' is seen.
      await Promise.race([watch.up(left), expired]);
      await new Promise((resolve) => setTimeout(resolve, Math.min(25, Math.max(0, deadline - Date.now()))));
    }
  } finally {
    clearTimeout(timer);
  }
  const reason =
    refused || watch.downSince !== undefined
      ? `${watch.where} is unreachable (${watch.why})`
      : `no answer from ${watch.where}${options.write ? ' (what was sent may still be applied)' : ''}`;
  throw new RedisUnavailableError(`${what} gave up after ${ms} ms: ${reason}`, reason);
}
