/**
 * Lab 07's demo: `npx tsx labs/07-coordination [--solution] [--workers N] [--tasks N]`.
 *
 * Starts N worker processes (3) and two beat processes on one throw-away queue, each on your Lua scripts (the
 * reference for everything else), and has them share the work: three chords of `--tasks` members (24), a beat
 * ticking every half second, and a burst of a task limited to '10/s'. Halfway, one beat and one worker are killed
 * with kill -9. Draws who ran what on a timeline, then what the races would have broken: each chord's callbacks,
 * each tick, the gaps between limited starts. Passes when every callback ran once with every result in member
 * order, no tick was enqueued twice or lost but at the kill, and no limited task started before its turn.
 *
 * Don't change this file: your work is in lua/.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ChildEvent,
  type LabProcess,
  startBeatProcess,
  startWorkerProcess,
} from '../../kit/coordination/processes.ts';
import { LIMITED_INTERVAL_MS } from '../../kit/coordination/tasks.ts';
import { guide, openStubs } from '../../kit/guided.ts';
import { runLab } from '../../kit/run-lab.ts';
import { dropThrowaways, onInterrupt, throwaway } from '../../kit/throwaway.ts';
import { style } from '../../kit/ui/style.ts';
import { table } from '../../kit/ui/table.ts';
import { drawTimeline, type Span } from '../../kit/ui/timeline.ts';
import type { BeatTick } from '../../mini-queue/beat.ts';
import { sig } from '../../mini-queue/canvas.ts';
import type { ChordHandle } from '../../mini-queue/canvas-handles.ts';
import { NotImplemented } from '../../mini-queue/errors.ts';
import type { Track } from '../../mini-queue/parts.ts';
import { Queue } from '../../mini-queue/queue.ts';
import { connectRedis } from '../../mini-queue/redis/client.ts';
import type { TaskRun } from '../../mini-queue/worker.ts';

const TICK_MS = 500;
const CHORDS = 3;
const LIMITED = 25;
/** What a TODO left undone gets to show up in the other processes too, so the first one in order is named. */
const GRACE_MS = 1500;
/** Past the workers' visibility timeout (1 s): the stalled member's lease runs out while it runs. */
const STALL_MS = 1800;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

await runLab({
  name: '07-coordination',
  title: '07 — many workers, one truth: chords, beat and rate limits',
  demo: guide('07-coordination', async ({ track, workers = 3, tasks = 24 }) => {
    const name = throwaway(`lab07-${process.pid}`);
    const runs: Array<TaskRun & { worker: string }> = [];
    const ticks: Array<BeatTick & { beat: string; at: number }> = [];
    const onEvent = (event: ChildEvent, from: string) => {
      if (event.type === 'task') runs.push({ ...event.run, worker: from });
      else if (event.type === 'tick') ticks.push({ ...event.tick, beat: from, at: Date.now() });
    };

    // What stopped a process on its own; the first TODO in order wins, once the others had a moment to say theirs.
    const problems: Error[] = [];
    let troubled: (error: Error) => void = () => {};
    const trouble = new Promise<never>((_, reject) => {
      troubled = reject;
    });
    trouble.catch(() => {});
    const watch = (p: LabProcess) => {
      p.failed.catch((error: Error) => {
        if (problems.push(error) === 1) setTimeout(() => troubled(firstInOrder(problems, track)), GRACE_MS);
      });
      return p;
    };
    const step = <T>(promise: Promise<T>) => Promise.race([promise, trouble]);

    console.log(
      `Starting ${workers} workers and 2 beats, each a process of its own, on ${style.cyan(`mq:{${name}}`)}…`,
    );
    const processes = [
      ...Array.from({ length: workers }, (_, i) =>
        watch(startWorkerProcess(`worker-${i + 1}`, { queue: name, track, concurrency: 2 }, onEvent)),
      ),
      ...[1, 2].map((i) =>
        watch(
          startBeatProcess(
            `beat-${i}`,
            { queue: name, track, schedule: [{ name: 'ping', task: 'tick', every: TICK_MS }] },
            onEvent,
          ),
        ),
      ),
    ];
    const undo = onInterrupt(() => Promise.all(processes.map((p) => p.stop(1000))));
    const queue = new Queue({ name });
    const redis = await connectRedis({ name: 'lab07-demo' });
    const dir = mkdtempSync(join(tmpdir(), 'lab07-'));
    const killed: Array<{ name: string; at: number }> = [];
    try {
      await step(Promise.all(processes.map((p) => p.ready)));
      const t0 = Date.now();
      console.log(
        `All running. ${CHORDS} chords of ${tasks} members, a tick every ${TICK_MS} ms, ${LIMITED} tasks limited to '10/s'; kill -9 of a beat and a worker halfway.`,
      );

      const chords: ChordHandle[] = [];
      /**
       * A chord. With `stall`, its member #2 blocks its worker past the lease on its first run, so it runs, and
       * joins, twice, while its last member is still running (a slow one): a count of joins would reach n early.
       */
      const sendChord = async (stall?: string) => {
        const ms = (i: number) => (stall && i === tasks - 1 ? STALL_MS + 700 : 40 + ((i * 37) % 80));
        chords.push(
          await queue.chord(
            Array.from({ length: tasks }, (_, i) =>
              sig('square', i, ms(i), ...(stall && i === 2 ? [stall, STALL_MS] : [])),
            ),
            sig('collect'),
          ),
        );
      };
      await sendChord();
      await step(pause(500));
      const [s, us] = await redis.time();
      const limitedFrom = Number(s) * 1000 + Number(us) / 1000;
      const limited = await queue.enqueueMany(
        'limited',
        Array.from({ length: LIMITED }, () => []),
      );
      await step(pause(1000));
      await sendChord();
      // The kills, while chord 2's members run on every worker: the beat that enqueued the latest tick, and a worker.
      await step(pause(150));
      const beats = processes.filter((p) => p.name.startsWith('beat-'));
      const lastTick = ticks.filter((t) => t.outcome === 'enqueued').at(-1);
      const beat = beats.find((b) => b.name === lastTick?.beat) ?? beats[0]!;
      // A worker too, unless it is the only one (then nothing would be left to run the rest).
      const worker = workers > 1 ? processes[1]! : undefined;
      for (const victim of worker ? [beat, worker] : [beat]) {
        await victim.kill();
        killed.push({ name: victim.name, at: Date.now() });
      }
      console.log(
        worker
          ? `kill -9 of ${beat.name} and ${worker.name}: the chord members ${worker.name} held come back when their leases run out, run again elsewhere and join again.`
          : `kill -9 of ${beat.name} (one worker only: it stays).`,
      );
      await step(pause(500));
      // Chord 3's member #2 stalls its worker past its lease: another worker runs it too, and both runs join.
      await sendChord(join(dir, 'stall'));

      const results = await step(Promise.all(chords.map((c) => c.get({ timeoutMs: 20_000 }))));
      await step(Promise.all(limited.map((h) => h.result({ timeout: 20_000 }))));
      // A tick or two more, for the beat left.
      await step(pause(Math.max(0, t0 + 6500 - Date.now())));
      await Promise.all(processes.map((p) => p.stop()));
      // A second callback would be in a run now, or still in the queue.
      const stats = await queue.stats();

      console.log(drawTimeline(spans(runs, ticks, killed)));
      console.log(
        style.dim(
          '█ chord member  C callback  r limited (10/s)  t tick task  ▲ tick enqueued by this beat  · found taken  ✗ kill -9',
        ),
      );

      const chordRows = chords.map((c, i) => {
        const callbacks = runs.filter((r) => r.id === c.id && r.state === 'SUCCESS').length;
        const expected = Array.from({ length: tasks }, (_, k) => k * k);
        const got = results[i] as unknown[];
        const inOrder = JSON.stringify(got) === JSON.stringify(expected);
        const twice = c.members.ids.filter((id) => runs.filter((r) => r.id === id).length > 1).length;
        return {
          callbacks,
          inOrder,
          row: [`chord ${i + 1}`, tasks, twice, callbacks, inOrder ? 'yes' : `NO (${got.length} results)`],
        };
      });
      console.log(
        table(
          ['chord', 'members', 'members that ran twice', 'callbacks run', 'results in member order'],
          chordRows.map((c) => c.row),
        ),
      );

      const enqueued = ticks.filter((t) => t.outcome === 'enqueued');
      const times = [...new Set(enqueued.map((t) => t.tick))].sort((a, b) => a - b);
      const twice = times.filter((t) => enqueued.filter((e) => e.tick === t).length > 1);
      const missing: number[] = [];
      for (let t = times[0] ?? 0; t <= (times.at(-1) ?? 0); t += TICK_MS)
        if (!times.includes(t)) missing.push(t);
      const by = (beatName: string) => enqueued.filter((t) => t.beat === beatName).length;
      console.log(
        table(
          ['ticks', 'enqueued twice', 'missing', 'by beat-1', 'by beat-2', 'tries found taken'],
          [
            [
              times.length,
              twice.length,
              missing.length,
              by('beat-1'),
              by('beat-2'),
              ticks.filter((t) => t.outcome === 'taken').length,
            ],
          ],
        ),
      );

      const starts = runs
        .filter((r) => r.task === 'limited' && r.state === 'SUCCESS')
        .map((r) => r.startedAt)
        .sort((a, b) => a - b);
      const early = starts.filter((at, k) => at < limitedFrom + k * LIMITED_INTERVAL_MS - 2).length;
      const gaps = starts.slice(1).map((at, k) => at - starts[k]!);
      const sorted = [...gaps].sort((a, b) => a - b);
      // The rate itself: n starts at '10/s' take (n - 1) × 100 ms at least, on any number of workers.
      const span = starts.length > 1 ? starts.at(-1)! - starts[0]! : 0;
      const workersUsed = new Set(runs.filter((r) => r.task === 'limited').map((r) => r.worker)).size;
      console.log(
        table(
          ['limited (10/s)', 'started', 'on workers', 'first to last', 'median gap', 'before its turn'],
          [
            [
              LIMITED,
              starts.length,
              workersUsed,
              `${(span / 1000).toFixed(2)} s (≥ ${(((LIMITED - 1) * LIMITED_INTERVAL_MS) / 1000).toFixed(1)})`,
              `${Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0)} ms`,
              early,
            ],
          ],
        ),
      );

      const chordsOk = chordRows.every((c) => c.callbacks === 1 && c.inOrder);
      const ticksOk = twice.length === 0 && missing.length <= 1;
      const rateOk = early === 0 && starts.length === LIMITED;
      const drained = stats.waiting === 0 && stats.active === 0;
      const seconds = ((Date.now() - t0) / 1000).toFixed(1);
      console.log(
        chordsOk && ticksOk && rateOk && drained
          ? style.green(
              `Each callback once with all ${tasks} results in order, each tick once (${missing.length} lost to the kill), no limited start before its turn; ${seconds} s.`,
            )
          : style.red(
              [
                chordsOk ? '' : 'a chord ran its callback other than once, or with its results out of order',
                ticksOk ? '' : `ticks enqueued twice: ${twice.length}, missing: ${missing.length}`,
                rateOk
                  ? ''
                  : `${early} limited task(s) started before their turn (${starts.length} of ${LIMITED} ran)`,
                drained ? '' : `the queue is not empty: ${JSON.stringify(stats)}`,
              ]
                .filter(Boolean)
                .join('; '),
            ),
      );
      return chordsOk && ticksOk && rateOk && drained;
    } finally {
      await Promise.all(processes.map((p) => p.stop(1000)));
      undo();
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
      await queue.close();
      await dropThrowaways([name]);
    }
  }),
});

/** The first TODO in order among what stopped the processes; else the first error. */
/**
 * The first TODO in order among what stopped the processes, or a stub before it still in your files (a beat may
 * stop on 07.2 before any chord member has joined to meet 07.1); else the first error.
 */
function firstInOrder(problems: Error[], track: Track): Error {
  const order = (a: { todo: string }, b: { todo: string }) =>
    a.todo.localeCompare(b.todo, 'en', { numeric: true });
  const todos = problems.filter((p): p is NotImplemented => p instanceof NotImplemented).sort(order);
  const first = todos[0];
  if (!first) return problems[0]!;
  const before = track === 'labs' ? openStubs('07-coordination').find((s) => order(s, first) < 0) : undefined;
  return before ? notDone(before.todo, before.hint) : first;
}

/** A TODO's guidance, in the words of its stub in your files. */
function notDone(todo: string, hint: string): NotImplemented {
  return new NotImplemented(todo, hint);
}

/** One row per process: what each worker ran, the ticks each beat enqueued or found taken, and the kills. */
function spans(
  runs: Array<TaskRun & { worker: string }>,
  ticks: Array<BeatTick & { beat: string; at: number }>,
  killed: Array<{ name: string; at: number }>,
): Span[] {
  const marks: Record<string, string> = { square: '█', collect: 'C', limited: 'r', tick: 't' };
  return [
    ...runs.map((r) => ({
      lane: r.worker,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      mark: marks[r.task] ?? '?',
    })),
    ...ticks.map((t) => ({
      lane: t.beat,
      startedAt: t.at,
      finishedAt: t.at,
      mark: t.outcome === 'enqueued' ? '▲' : '·',
    })),
    ...killed.map((k) => ({ lane: k.name, startedAt: k.at, finishedAt: k.at, mark: '✗' })),
    // Every limited start on one row, whichever worker: the rate, as the queue sees it.
    ...runs
      .filter((r) => r.task === 'limited')
      .map((r) => ({ lane: 'limited, all', startedAt: r.startedAt, finishedAt: r.startedAt, mark: 'r' })),
  ];
}
