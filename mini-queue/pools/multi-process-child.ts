/**
 * One child of the multi-process pool (multi-process.ts): an in-process pool (event-loop or coroutines, the one
 * the track builds) that runs the calls its parent sends, many at once, and sends back their outcomes.
 *
 *   argv: TASKS_PATH KIND TRACK CONCURRENCY
 *   parent ──{calls: [{s, call}, ...]}──▶ pool.run(call) for each ─▶ outcomes of this turn ──{done: [...]}──▶ parent
 *          ◀──{ready} once its pool has started; {beat} when it has said nothing for BEAT_MS
 */
import { errorMessage } from '../errors.ts';
import { poolFactory } from '../parts.ts';
import type { Pool, PoolKind, TaskOutcome } from '../pool.ts';
import { startParentWatchdog } from '../runtime/parent-watchdog.ts';
import { loadTasks } from '../tasks.ts';
import { BEAT_MS, type FromMultiChild, type ToMultiChild, type WireResult } from './multi-process-wire.ts';

// First: a task module that spins at import is covered too. The watchdog kills this process if the parent dies while
// a task blocks the event loop; 'disconnect' is the way out for a loop that runs (the parent's warm close included:
// it closes the channel only once nothing runs here).
startParentWatchdog();
process.on('disconnect', () => process.exit(0));

const [tasksPath = '', kind = 'event-loop', track = 'solutions', concurrency = '1'] = process.argv.slice(2);
const lane = `pid-${process.pid}`;
let outbox: WireResult[] = [];
let scheduled = false;
let lastSent = 0;

function send(message: FromMultiChild): void {
  if (!process.connected) return;
  lastSent = Date.now();
  process.send?.(message);
}

/** The outcomes of this turn go in one message, at its end. */
function queue(result: WireResult): void {
  outbox.push(result);
  if (scheduled) return;
  scheduled = true;
  setImmediate(flush);
}

function flush(): void {
  scheduled = false;
  const results = outbox;
  outbox = [];
  try {
    send({ type: 'done', results });
  } catch {
    // A value JSON cannot carry (a BigInt, a cycle) fails the whole message: fail that task alone, send the rest.
    send({ type: 'done', results: results.map(carriable) });
  }
}

function carriable(result: WireResult): WireResult {
  try {
    JSON.stringify(result);
    return result;
  } catch (error) {
    const { startedAt, finishedAt } = 'outcome' in result ? result.outcome : { startedAt: 0, finishedAt: 0 };
    const message = `the result cannot be sent to the parent: ${errorMessage(error)}`;
    const outcome: TaskOutcome = {
      ok: false,
      error: { name: 'DataCloneError', message },
      lane,
      startedAt,
      finishedAt,
    };
    return { s: result.s, outcome };
  }
}

function serve(pool: Pool): void {
  process.on('message', (message: ToMultiChild) => {
    if (message.type === 'cpu') {
      send({ type: 'cpu', n: message.n, usage: process.cpuUsage() });
      return;
    }
    for (const { s, call } of message.calls) {
      pool.run(call).then(
        (outcome) => {
          // Which process ran it: `pid-41` for the event loop's `main`, `pid-41/coroutine-3` for a coroutine.
          outcome.lane = outcome.lane === 'main' ? lane : `${lane}/${outcome.lane}`;
          queue({ s, outcome });
        },
        (error: unknown) =>
          queue({
            s,
            rejected: { name: error instanceof Error ? error.name : 'Error', message: errorMessage(error) },
          }),
      );
    }
  });
  // Silence means a blocked event loop to the parent (its backstop for time limits): say something meanwhile.
  setInterval(() => {
    if (Date.now() - lastSent >= BEAT_MS) send({ type: 'beat' });
  }, BEAT_MS / 2).unref();
  send({ type: 'ready' });
}

try {
  const registry = await loadTasks(tasksPath);
  const createPool = await poolFactory(kind as PoolKind, track);
  serve(await createPool({ concurrency: Number(concurrency), tasksPath, registry }));
} catch (error) {
  // Why, in the parent's words for it (createPool rejects with this); then the exit tells it we are gone.
  const name = error instanceof Error ? error.name : 'Error';
  if (!process.connected) process.exit(1);
  process.send?.(
    { type: 'failed', error: { name, message: errorMessage(error) } } satisfies FromMultiChild,
    () => process.exit(1),
  );
}
