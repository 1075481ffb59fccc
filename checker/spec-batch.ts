/**
 * Specs graded one after another by long-lived runners (checker/spec-runner.ts) instead of one vitest each: for the
 * kit's own proof that every wrong variant fails (test/variants.test.ts, `npm run check:soundness`), where a
 * variant's few checks cost less than the vitest start-up around them. `npm run check` keeps one process per lab
 * (run-spec.ts): a learner grades a lab or seven, not a hundred and seventy.
 *
 * What a run says is what runSpec says for the same spec and track: each spec runs in a fresh process of its own
 * under the runner, its checks stream in through the same reporter, the same time limits apply, and a stop is the
 * same stop. A check that hangs past its limit, or a spec past the backstop (a loop that never yields), kills the
 * runner's whole process group (its spec process and anything that started) and is reported as runSpec reports
 * it; the next spec gets a new runner.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { SpecRun } from '../kit/report.ts';
import { reapOrphans } from '../kit/throwaway.ts';
import { REPO_ROOT } from '../kit/todos.ts';
import type { Track } from '../mini-queue/parts.ts';
import { killGroup, unwatchGroup, watchGroup } from './process-groups.ts';
import type { RunSpecOptions } from './run-spec.ts';
import type { SpecJob } from './spec-runner.ts';
import { RunState, specRunOf, Tail } from './spec-state.ts';
import { checkTimeLimitS, specTimeLimitMs } from './time-limits.ts';

const RUNNER = fileURLToPath(new URL('./spec-runner-entry.mjs', import.meta.url));

/** One runner process: one job at a time. */
class Runner {
  private readonly child: ChildProcess;
  private output = '';
  private finished: ((closed: boolean) => void) | undefined;
  closed = false;
  /** Stopped, or ended: no job goes to it any more. */
  gone = false;

  constructor(
    readonly root: string,
    readonly limitS: number,
  ) {
    this.child = spawn(process.execPath, [RUNNER, String(limitS)], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      // Its own process group, so a stop takes everything it started: vitest's fork, a lab's threads and children.
      detached: true,
    });
    const pid = this.child.pid!;
    watchGroup(pid);
    const keep = (chunk: Buffer) => {
      this.output += chunk.toString();
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    let replies = '';
    (this.child.stdio[3] as Readable).on('data', (chunk: Buffer) => {
      replies += chunk.toString();
      for (let end = replies.indexOf('\n'); end >= 0; end = replies.indexOf('\n')) {
        replies = replies.slice(end + 1);
        this.settle(false);
      }
    });
    // A runner that cannot start (no such file, a broken install) says so in its output, then closes.
    this.child.on('error', (error) => keep(Buffer.from(`${error.message}\n`)));
    this.child.on('close', () => {
      this.closed = true;
      this.gone = true;
      unwatchGroup(pid);
      this.settle(true);
    });
  }

  /** Runs one job; resolves with what the runner printed meanwhile, and whether it closed before the job's end. */
  run(job: SpecJob): Promise<{ output: string; closed: boolean }> {
    this.output = '';
    return new Promise((resolve) => {
      if (this.closed) return resolve({ output: this.output, closed: true });
      this.finished = (closed) => resolve({ output: this.output, closed });
      (this.child.stdin as Writable).write(`${JSON.stringify(job)}\n`);
    });
  }

  private settle(closed: boolean): void {
    const finished = this.finished;
    this.finished = undefined;
    finished?.(closed);
  }

  /** Stops it now, with everything it started. */
  kill(): void {
    this.gone = true;
    killGroup(this.child.pid!);
  }

  /** Lets it finish and close vitest; killed after a while if it does not. */
  async close(): Promise<void> {
    if (this.closed) return;
    const closed = new Promise((resolve) => this.child.once('close', resolve));
    this.child.stdin!.end();
    const late = setTimeout(() => this.kill(), 10_000);
    await closed;
    clearTimeout(late);
  }
}

/**
 * A set of runners, each used by one spec at a time (as many at once as callers ask for). Runners are kept per kit
 * root and time limit, which a runner fixes when it starts. Close it when done: the runners end with it.
 */
export class SpecBatch {
  private readonly idle: Runner[] = [];
  private readonly all = new Set<Runner>();

  /**
   * runSpec's contract (see run-spec.ts), on a runner. No `turn`: a batch has no lab shown beside another.
   * An arrow function, so it can be handed over as CheckLabOptions.runSpec.
   */
  readonly runSpec = async (
    spec: string,
    track: Track,
    env: Record<string, string> = {},
    options: RunSpecOptions = {},
  ): Promise<SpecRun> => {
    if (options.turn) throw new Error('SpecBatch.runSpec: a batch runs no spec ahead of its turn');
    const root = options.root ?? REPO_ROOT;
    const lab = basename(spec).replace(/\.spec\.ts$/, '');
    const limitS = checkTimeLimitS(lab);
    const runner = this.take(root, limitS);
    const dir = mkdtempSync(join(tmpdir(), 'mq-check-'));
    const stream = join(dir, 'checks.jsonl');
    const measurements = join(dir, 'measurements.jsonl');
    const started = Date.now();
    const state = new RunState(root, track, lab, options.onEvent);
    const tail = new Tail(stream);
    const stop = (why: 'hang' | 'backstop' | 'aborted') => {
      state.stopped ??= why;
      runner.kill();
    };
    const poll = setInterval(() => {
      for (const event of tail.read()) state.take(event);
      if (state.hung) stop('hang');
      state.noticeSlow(limitS);
    }, 100);
    const backstop = setTimeout(() => stop('backstop'), specTimeLimitMs());
    const abort = () => stop('aborted');
    options.signal?.addEventListener('abort', abort);
    let output: string;
    try {
      ({ output } = await runner.run({
        spec,
        track,
        only: options.only,
        env: { ...env, MQ_TRACK: track, MQ_CHECK_MEASUREMENTS: measurements, MQ_CHECK_STREAM: stream },
      }));
    } finally {
      clearInterval(poll);
      clearTimeout(backstop);
      options.signal?.removeEventListener('abort', abort);
      for (const event of tail.read()) state.take(event);
      tail.close();
      // A check that hung as the spec ended (its last) may have left what it started: stopped all the same.
      if (state.hung) stop('hang');
      this.give(runner);
    }
    // A spec killed mid-run (hung check, backstop) could not drop its queues: drop them now, not at the TTL.
    if (state.stopped) await reapOrphans().catch(() => {});
    const seconds = (Date.now() - started) / 1000;
    try {
      return specRunOf(state, output, measurements, seconds);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  /** Ends every runner (after the spec it runs, if any). */
  async close(): Promise<void> {
    this.idle.length = 0;
    await Promise.all([...this.all].map((runner) => runner.close()));
    this.all.clear();
  }

  private take(root: string, limitS: number): Runner {
    const at = this.idle.findIndex((r) => r.root === root && r.limitS === limitS && !r.gone);
    if (at >= 0) return this.idle.splice(at, 1)[0]!;
    const runner = new Runner(root, limitS);
    this.all.add(runner);
    return runner;
  }

  private give(runner: Runner): void {
    if (runner.gone) this.all.delete(runner);
    else this.idle.push(runner);
  }
}
