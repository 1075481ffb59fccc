/**
 * The watchdog thread (see ./client.ts): it watches the worker's main thread and, when a task has blocked it past
 * its time limit plus a grace, settles that task as FAILURE, gives the worker's other messages back and kills the
 * process. Everything here runs on this thread's own event loop, with its own Redis connections: nothing of it
 * waits for the blocked main thread.
 */
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { Broker, ResultRecord } from '../broker.ts';
import { errorMessage } from '../errors.ts';
import { openBroker, type Track } from '../parts.ts';
import { SLOT, type ToWatchdog } from './client.ts';

interface Data {
  queue: string;
  url: string;
  visibilityMs: number;
  brokerTrack: Track | undefined;
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

parentPort?.on('message', (message: ToWatchdog) => {
  if (message.type === 'start') runs.set(message.token, message);
  else if (message.type === 'end') runs.delete(message.token);
  else holding = message.raws;
});

const check = setInterval(() => {
  const heartbeat = Number(Atomics.load(data.shared, SLOT.heartbeat));
  const now = Date.now();
  // Past its limit plus the grace, and the main thread has run no timer since its limit: its own limit could not fire.
  const overdue = [...runs.values()].filter(
    (run) => now > run.startedAt + run.timeout + data.graceMs && heartbeat < run.startedAt + run.timeout,
  );
  if (overdue.length === 0) return;
  clearInterval(check);
  void act(overdue, now - heartbeat);
}, CHECK_MS);

async function act(overdue: Run[], blockedMs: number): Promise<void> {
  const current = Number(Atomics.load(data.shared, SLOT.current));
  const failed = new Set(overdue.map((run) => run.raw));
  const others = holding.filter((raw) => !failed.has(raw));
  const names = overdue.map((run) => `${run.record.task} ${run.record.id}`).join(', ');
  let released = 0;
  const settle = (async () => {
    const opened = await broker;
    for (const run of overdue) await fail(opened, run, blockedMs, data.oneLane || run.token === current);
    if (others.length > 0) released = await opened.release(others);
  })();
  let outcome = 'recorded as FAILURE';
  try {
    await withDeadline(settle, SETTLE_MS);
  } catch (error) {
    outcome = `not recorded (${errorMessage(error)}: it comes back after its lease, counted as a worker death)`;
  }
  say(
    `watchdog: the event loop of worker ${data.pid} has been blocked for ${blockedMs} ms by ${names}, past its time limit: ` +
      `${outcome}; ${released} other message(s) back to the queue; killing the worker (SIGKILL: a blocked thread cannot ` +
      'run a SIGTERM handler). Restart it with your supervisor; tasks that never yield belong on --pool threads or prefork.',
  );
  process.kill(data.pid, 'SIGKILL');
}

/** Settles a runaway as FAILURE, never retried: another attempt would block another worker the same way. */
async function fail(opened: Broker, run: Run, blockedMs: number, culprit: boolean): Promise<void> {
  const message = culprit
    ? `the event loop was blocked by this task for ${blockedMs} ms, past its time limit of ${run.timeout} ms; the worker process was killed`
    : `its time limit of ${run.timeout} ms passed while the event loop was blocked for ${blockedMs} ms (by this task or another one on the same thread); the worker process was killed`;
  const record: ResultRecord = {
    ...run.record,
    state: 'FAILURE',
    error: { name: 'TimeLimitExceeded', message },
    lane: run.lane,
    startedAt: run.startedAt,
    finishedAt: Date.now(),
  };
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
