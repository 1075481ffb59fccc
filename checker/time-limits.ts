/**
 * How long a check may take before it is called hung, and what usually hangs in each lab, so a time-out names
 * the check and a likely cause instead of minutes of silence.
 *
 * A check's own limit is vitest's per-test timeout: this lab default, passed as `--testTimeout`; a spec can give
 * one check more with `it(name, { timeout }, fn)`. MQ_CHECK_TIME_LIMIT_S overrides the default (a slow laptop, or
 * the kit's own tests, which want a hang named quickly). The whole spec's limit (SPEC_TIME_LIMIT_MS below) stays
 * as a backstop for a hang vitest cannot interrupt (a loop that never yields).
 */

/** Seconds a check may run in a lab whose checks all take a few seconds on a quiet machine. */
const DEFAULT_S = 20;

/** The labs that measure speedups: their measuring checks take 5 to 15 s on a busy 2-core machine. */
const LAB_S: Record<string, number> = {
  '03-threads': 45,
  '04-processes': 45,
  '05-prefork': 45,
};

/**
 * The backstop: a spec that runs longer than this is stopped, whatever its checks' own limits. Each check has its
 * own, much shorter, limit (checkTimeLimitS); this one catches what vitest cannot interrupt (a loop that never
 * yields on vitest's side), and the report names the check that was running. MQ_CHECK_SPEC_LIMIT_S changes it (the
 * kit's own tests shorten it).
 */
export const SPEC_TIME_LIMIT_MS = 180_000;

/** The backstop of a spec run, in milliseconds (see SPEC_TIME_LIMIT_MS). */
export function specTimeLimitMs(): number {
  const given = Number(process.env.MQ_CHECK_SPEC_LIMIT_S);
  return Number.isFinite(given) && given > 0 ? given * 1000 : SPEC_TIME_LIMIT_MS;
}

/** The per-check time limit of a lab, in seconds. */
export function checkTimeLimitS(lab: string): number {
  const given = Number(process.env.MQ_CHECK_TIME_LIMIT_S);
  if (Number.isFinite(given) && given > 0) return given;
  return LAB_S[lab] ?? DEFAULT_S;
}

const ANY = 'an await on something that never settles (a promise nobody resolves or rejects)';

/** What usually makes a check of this lab hang, most likely first. */
const HANGS: Record<string, string[]> = {
  '00-broker': [
    'a blocking call (BLMOVE) given milliseconds where Redis wants seconds: blockMs / 1000',
    'a blocking call on the shared connection (this.redis) instead of this.blocking, which queues every other command behind it',
    ANY,
  ],
  '01-event-loop': [
    'a loop that waits for a free slot without ever awaiting: the tasks that would free it never get to run',
    'a slot that is never given back (a task that throws must free its slot too)',
    'a waiting call that is never started when a slot frees up',
    ANY,
  ],
  '02-coroutines': [
    'a coroutine that is never resumed (a wait or sleep whose wake-up is never scheduled)',
    'a loop that never yields to the event loop',
    ANY,
  ],
  '03-threads': [
    'an outcome never posted back, or never matched to its call by id',
    "a thread that died with its task never failed (the 'exit' event)",
    'a synchronous loop on the main thread, which no timer can interrupt',
    ANY,
  ],
  '04-processes': [
    'a child that never exits after its task (one task per process: exit once the outcome is sent)',
    "a child's reply never matched to its call, or a child that exits without its task being failed",
    'a child that is never started, or never told to run its task',
    ANY,
  ],
  '05-prefork': [
    "a child's reply never matched to its call, or a child that exits without its task being failed",
    'a child never handed the next task after it finished one',
    ANY,
  ],
  '06-showdown': ['a request that is never answered (a handler that awaits the work itself)', ANY],
  '07-coordination': [
    "a chord whose last member never enqueues the callback (a join that answers 'counted' for every member, or counts one member twice and the last never)",
    'a tick no beat claims (a guard set but the message never pushed), so the check waits for a run that never comes',
    'a rate limit that books every start in the future (a next free start that never becomes due), so no limited task starts',
    ANY,
  ],
  '08-transport': [
    'a consume() that never hands a message to this.deliver(), or a deliver() that never calls this.hold(): the check waits for deliveries that never reach reserve()',
    'an ack() that awaits something besides the result in Redis (a confirm on the consuming channel: acks are not confirmed)',
    'a worker process that cannot reach RabbitMQ or Redis, or never says it runs',
    ANY,
  ],
};

/** One line: what usually makes a check of `lab` hang. */
export function usualHangs(lab: string): string {
  return (HANGS[lab] ?? [ANY]).join('; ');
}
