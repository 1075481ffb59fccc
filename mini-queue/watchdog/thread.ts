/**
 * The watchdog thread (see ./client.ts): it watches the worker's main thread and, when a task has blocked it past
 * a time limit plus a grace, settles what ran past its limit as FAILURE, gives the worker's other messages back
 * and kills the process. Everything here runs on this thread's own event loop, with its own Redis connections: nothing of it
 * waits for the blocked main thread.
 */
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { Broker, ResultRecord } from '../broker.ts';
import { Coordination } from '../coordination.ts';
import { decodeEnvelope } from '../envelope.ts';
import { errorMessage } from '../errors.ts';
import { openBroker, type Track } from '../parts.ts';
import { type FromWatchdog, SLOT, type ToWatchdog } from './client.ts';

interface Data {
  queue: string;
  url: string;
  visibilityMs: number;
  brokerTrack: Track | undefined;
  coordinationTrack?: Track | undefined;
  graceMs: number;
  /** The pool runs one task at a time: a blocked thread is blocked by the one task it runs. */
  oneLane: boolean;
  shared: BigInt64Array;
  pid: number;
}

type Run = Extract<ToWatchdog, { type: 'start' }>;

const CHECK_MS = 100;
/** Redis gets this long to take the failure and the given-back messages before the process is killed anyway. */
const SETTLE_MS = 5000;

const data = workerData as Data;
const runs = new Map<number, Run>();
let holding: string[] = [];

const broker: Promise<Broker> = openBroker(
  { queue: data.queue, url: data.url, visibilityMs: data.visibilityMs },
  data.brokerTrack,
);
// A broker that cannot open (Redis gone) still leaves the kill: the messages come back when their leases run out.
broker.catch((error: unknown) => say(`watchdog: cannot reach Redis (${errorMessage(error)})`));
// Ready either way (see LoopWatchdog.arm): the task waiting for it may start.
broker.then(ready, ready);

function ready(): void {
  parentPort?.postMessage({ type: 'ready' } satisfies FromWatchdog);
}

parentPort?.on('message', (message: ToWatchdog) => {
  if (message.type === 'start') runs.set(message.token, message);
  else if (message.type === 'end') runs.delete(message.token);
  else holding = message.raws;
});

/**
 * Every 100 ms: has a limit passed while the main thread was blocked? "Blocked since a run's limit" means no
 * heartbeat since then: that run's own timer has not fired either. Who blocks is known when a timed run's
 * synchronous part is on the thread (SLOT.current), or when the pool has one lane and so one run.
 *
 * - The blocker is known: wait for *its* limit plus the grace. A task within its own limit is not killed because
 *   a neighbour's limit passed meanwhile; that neighbour fails when the loop comes back, or here, with the
 *   blocker. Then fail the blocker and each run whose limit passed while blocked, and give back every other
 *   message the worker holds: none of them is the blocker.
 * - Not known (an untimed task, or a timed one past its first await, on a pool with several lanes): act when any
 *   run is past its limit plus the grace, fail the runs whose limit passed, and leave the rest to their leases:
 *   one of them may be the blocker, and a lease that runs out counts as a worker death (WorkerLost after three),
 *   which a message given back would not.
 */
const check = setInterval(() => {
  // Who blocks, then the heartbeat: the main thread beats before it clears SLOT.current (LoopWatchdog.leave), so
  // a blocker seen gone comes with the beat of the thread running again.
  const blocker = blockerNow();
  const heartbeat = Number(Atomics.load(data.shared, SLOT.heartbeat));
  const now = Date.now();
  const lapsed = (run: Run) => heartbeat < run.at + run.timeout;
  const due = (run: Run) => lapsed(run) && now > run.at + run.timeout + data.graceMs;
  if (!(blocker ? due(blocker) : [...runs.values()].some(due))) return;
  clearInterval(check);
  const failing = [...runs.values()].filter((run) => run === blocker || lapsed(run));
  void act(failing, blocker, heartbeat, now);
}, CHECK_MS);

function blockerNow(): Run | undefined {
  const current = runs.get(Number(Atomics.load(data.shared, SLOT.current)));
  if (current) return current;
  return data.oneLane && runs.size === 1 ? [...runs.values()][0] : undefined;
}

async function act(failing: Run[], blocker: Run | undefined, heartbeat: number, now: number): Promise<void> {
  const failed = new Set(failing.map((run) => run.raw));
  const others = blocker ? holding.filter((raw) => !failed.has(raw)) : [];
  let released = 0;
  const settle = (async () => {
    const opened = await broker;
    for (const run of failing) await fail(opened, run, reason(run, blocker, heartbeat, now));
    if (others.length > 0) released = await opened.release(others);
  })();
  let outcome = 'recorded as FAILURE';
  try {
    await withDeadline(settle, SETTLE_MS);
  } catch (error) {
    outcome = `not recorded (${errorMessage(error)}): back to the queue after its lease, counted as a worker death`;
  }
  const names = failing.map((run) => `${run.record.task} ${run.record.id}`).join(', ');
  say(
    `watchdog: the event loop of worker ${data.pid} has been blocked for ${now - heartbeat} ms` +
      `${blocker ? ` by ${blocker.record.task} ${blocker.record.id}` : ''}, past a time limit. ${names}: ${outcome}; ` +
      `${blocker ? `${released} other message(s) back to the queue now` : 'the other messages back after their lease'}. ` +
      'Killing the worker (SIGKILL: a blocked thread runs no SIGTERM handler): restart it with your supervisor, and ' +
      'run tasks that compute for long on --pool threads or prefork.',
  );
  process.kill(data.pid, 'SIGKILL');
}

/** The readable reason a run fails with. */
function reason(run: Run, blocker: Run | undefined, heartbeat: number, now: number): string {
  const killed = 'the worker process was killed';
  if (run === blocker) {
    // Its synchronous part has run since it started, or since the last heartbeat if that came later.
    const ms = now - Math.max(heartbeat, run.at);
    return `the event loop was blocked by this task for ${ms} ms, past its time limit of ${run.timeout} ms; ${killed}`;
  }
  const by = blocker
    ? `by another task (${blocker.record.task} ${blocker.record.id})`
    : '(by this task or another one on the same thread)';
  return `its time limit of ${run.timeout} ms passed while the event loop was blocked for ${now - heartbeat} ms ${by}; ${killed}`;
}

let coordination: Coordination | undefined;

/** Settles a run as FAILURE, never retried: another attempt of a runaway would block another worker the same way. */
async function fail(opened: Broker, run: Run, message: string): Promise<void> {
  const record: ResultRecord = {
    ...run.record,
    state: 'FAILURE',
    error: { name: 'TimeLimitExceeded', message },
    lane: run.lane,
    startedAt: run.startedAt,
    finishedAt: Date.now(),
  };
  // A chord member or chain link takes its step before its ack, as in the worker: a runaway member fails its chord.
  const decoded = decodeEnvelope(run.raw);
  if (decoded.ok && Coordination.concerns(decoded.envelope)) {
    coordination ??= new Coordination({ queue: data.queue, url: data.url, track: data.coordinationTrack });
    await coordination.settled(decoded.envelope, record);
  }
  try {
    await opened.ack(run.raw, record);
  } catch (error) {
    // A broker whose ack is not written yet (lab 00) can still bury it, with the same reason.
    await opened.bury(run.raw, `TimeLimitExceeded: ${message} (ack failed: ${errorMessage(error)})`);
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Straight to fd 2: a thread's console goes through the main thread, which is blocked. */
function say(line: string): void {
  try {
    writeSync(2, `${line}\n`);
  } catch {}
}
