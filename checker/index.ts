/**
 * `npm run check [-- NN ...] [--solution] [--json [FILE]] [--html FILE]`: grades labs.
 * For each selected lab: its spec against your files (or the solutions), a table, and exit 0 iff all pass.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CheckProgress, countChecks, estimate, firstFailureLines } from '../kit/check-progress.ts';
import { type LabInfo, selectLabs } from '../kit/labs.ts';
import { busyWarning, cpuSecondsWithChildren, loadNow, machineFacts } from '../kit/machine.ts';
import { ProgressStore, progressFile, recordCheck } from '../kit/progress.ts';
import { speedupChart } from '../kit/speedup.ts';
import { REPO_ROOT } from '../kit/todos.ts';
import { style } from '../kit/ui/style.ts';
import { table } from '../kit/ui/table.ts';
import { drawTimeline } from '../kit/ui/timeline.ts';
import { runMain, UserError } from '../mini-queue/errors.ts';
import { integerFlag } from '../mini-queue/flags.ts';
import { parseTrack, type Track, trackFolder } from '../mini-queue/parts.ts';
import { resolveRedisUrl } from '../mini-queue/redis/resolve.ts';
import { type CheckReport, checkLab, checkLabRepeated, type LabVerdict, type SpecEvent } from './grade.ts';
import { checkReportHtml } from './html-report.ts';
import { checkLabs } from './run-labs.ts';

/** Whether any check of this lab measures time (marked with MEASURES in its spec, see checker/schedule.ts). */
function measuresTime(lab: { spec: string | undefined }): boolean {
  return lab.spec !== undefined && /\bMEASURES\b/.test(readFileSync(lab.spec, 'utf8'));
}

const HELP = `Usage: npm run check [-- NN ...] [--solution] [--json [FILE]] [--html FILE] [--only TEXT] [--repeat N [--seed S]] [--calibrate]

Grades labs: runs each lab's spec against your files in labs/ (or the reference with --solution).
  NN            lab ids to check (00 03 ...); all labs when none given
  --solution    grade the reference solutions instead of your files
  --json [FILE] also write the whole report as JSON (to stdout without FILE), the run's seconds, CPU and load too
  --html FILE   also write the report as one self-contained HTML page (charts inline, no network)
  --repeat N    run each spec N times with chaos (random delays around Redis calls) and report the pass rate
  --only TEXT   only the checks whose names match TEXT (a regular expression, vitest's -t), e.g. --only 00.2
  --seed S      the first chaos seed (default: random, printed); a failure names the seed that reproduces it
  --calibrate   run the reference on this machine first and grade speedups relative to it (slow laptops)

Each check shows ✓ or ✗ as it finishes; a failed one says where (file:line) and what was expected. A check that
runs past its time limit (20 s, 45 s in labs 03 to 05; MQ_CHECK_TIME_LIMIT_S=N to change it) is called hung,
with what usually hangs there, and the run stops.`;

/** The table's "first to fix": the TODO of a stub, else the failing check's TODO (or name) and where it is. */
function firstToFix(v: LabVerdict): string {
  if (v.verdict === 'pass') return '';
  const first = v.firstFailure;
  if (!first) return v.todo ? `TODO(${v.todo})` : 'see below';
  const where = first.where ? ` ${first.where.split('/').pop()}` : '';
  if (first.stub) return `TODO(${first.todo})`;
  return `${first.todo ?? (first.check.length > 24 ? `${first.check.slice(0, 23)}…` : first.check)}${where}`;
}

/**
 * `--track`: labs or solutions, as the contract says; the kit's own tests also pass a `.variant-x` folder they
 * wrote (a solution with a mistake patched in), which must exist.
 */
function trackOf(value: string): Track {
  if (value.startsWith('.') && existsSync(join(REPO_ROOT, trackFolder(value)))) return value;
  return parseTrack(value);
}

function printVerdicts(report: CheckReport): void {
  const rows = report.labs.map((v) => [
    v.lab,
    `${v.passed}/${v.total}`,
    v.verdict === 'pass' ? style.green('PASS') : style.red('FAIL'),
    firstToFix(v),
    v.seconds.toFixed(1),
  ]);
  console.log(table(['lab', 'checks', 'verdict', 'first to fix', 's'], rows));
  for (const v of report.labs) {
    if (!v.repeat) continue;
    const { runs, passed, seeds, failedSeed } = v.repeat;
    console.log(
      `${style.bold(v.lab)}: ${passed}/${runs} chaos runs passed (seeds ${seeds[0]}..${seeds.at(-1)})` +
        (failedSeed === undefined
          ? ''
          : `; reproduce the first failure: npm run check -- ${v.lab.slice(0, 2)} --repeat 1 --seed ${failedSeed}`),
    );
  }
  for (const v of report.labs) {
    if (v.verdict === 'pass') continue;
    const [head, ...rest] = firstFailureLines(v);
    console.log(`${style.bold(v.lab)}: ${head ?? 'failed'}`);
    for (const line of rest) console.log(line);
    if (v.hint) console.log(`  hint: ${v.hint}`);
  }
  for (const v of report.labs) {
    if (!v.speedup) continue;
    const { points, serialFraction, predicted, fitNote } = v.speedup;
    // A flat curve says what it means: one core's worth of work, which labs 01 and 02 show on purpose.
    const flat = Math.max(...points.map((p) => p.speedup)) < 1.2;
    console.log(
      `\n${style.bold(v.lab)}: speedup at ${points.map((p) => p.workers).join(', ')} workers` +
        (flat ? style.dim(' (flat: the work had one core, as on one thread, or on a busy machine)') : ''),
    );
    console.log(
      table(
        ['workers', 'seconds', 'speedup S', 'efficiency E', 'Karp–Flatt e'],
        points.map((p) => [
          p.workers,
          p.seconds.toFixed(3),
          p.speedup.toFixed(2),
          `${Math.round(p.efficiency * 100)}%`,
          p.karpFlatt === undefined ? '' : p.karpFlatt.toFixed(3),
        ]),
      ),
    );
    console.log(speedupChart(v.speedup));
    console.log(
      predicted
        ? `  Amdahl fit: serial fraction ${serialFraction.toFixed(3)}; it predicts S ${predicted[8].toFixed(1)} at 8 cores, ` +
            `${predicted[16].toFixed(1)} at 16, ${predicted[64].toFixed(1)} at 64.`
        : `  Amdahl fit: ${fitNote}.`,
    );
  }
  for (const v of report.labs) {
    for (const { label, spans } of v.timelines ?? []) {
      console.log(`\n${style.bold(v.lab)}: ${label} (one row per lane, time left to right)`);
      console.log(drawTimeline(spans));
    }
  }
  for (const v of report.labs) {
    const figures = v.measurements.filter((m) => !/^T\(\d+\)$/.test(m.name));
    if (figures.length === 0) continue;
    console.log(
      `${style.bold(v.lab)} measurements: ${figures.map((m) => `${m.name} ${m.value}${m.unit}`).join(', ')}`,
    );
  }
}

await runMain(async () => {
  let parsed: ReturnType<
    typeof parseArgs<{ options: Record<string, { type: 'boolean' | 'string' }>; allowPositionals: true }>
  >;
  const argv = process.argv.slice(2);
  // `--json` takes an optional FILE: a following argument that is not a lab id and not a flag.
  const jsonAt = argv.indexOf('--json');
  let jsonFile: string | undefined;
  const wantJson = jsonAt >= 0;
  if (wantJson) {
    const next = argv[jsonAt + 1];
    if (next !== undefined && !next.startsWith('--') && !/^\d{1,2}$/.test(next)) {
      jsonFile = next;
      argv.splice(jsonAt + 1, 1);
    }
    argv.splice(jsonAt, 1);
  }
  // Checked before the run, not after minutes of it: `--html` with no FILE, or a FILE in a missing folder.
  const htmlAt = argv.findIndex((a) => a === '--html' || a.startsWith('--html='));
  if (htmlAt >= 0) {
    const given = argv[htmlAt] === '--html' ? argv[htmlAt + 1] : argv[htmlAt]!.slice('--html='.length);
    if (!given || given.startsWith('-') || /^\d{1,2}$/.test(given)) {
      throw new UserError(
        '--html needs a FILE to write the page to, e.g. `npm run check -- 03 --html report.html`.',
      );
    }
    if (!existsSync(dirname(resolve(given)))) {
      throw new UserError(`--html ${given}: the folder ${dirname(resolve(given))} does not exist.`);
    }
  }
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        solution: { type: 'boolean' },
        html: { type: 'string' },
        track: { type: 'string' },
        events: { type: 'boolean' },
        only: { type: 'string' },
        repeat: { type: 'string' },
        calibrate: { type: 'boolean' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UserError(`${(error as Error).message}. See \`npm run check -- --help\`.`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  // One Redis for every spec process: resolved here (REDIS_URL, 127.0.0.1:6379, or a private one), inherited.
  await resolveRedisUrl();
  const track = trackOf(values.track ? String(values.track) : values.solution ? 'solutions' : 'labs');
  const labs = selectLabs(positionals);
  const machine = machineFacts();
  const quiet = wantJson && !jsonFile;
  const log = quiet ? () => {} : console.log;
  log(
    style.dim(
      `Checking ${labs.map((l) => l.id).join(' ')} on ${track === 'labs' ? 'your files (labs/)' : track}. ` +
        `Machine: ${machine.cores} cores, Node ${machine.node}, libuv ${machine.libuv}, load ${machine.loadAverage}.`,
    ),
  );
  // Only where a check measures a speedup or a latency (MEASURES): elsewhere load slows a check, never its verdict.
  const warning = labs.some(measuresTime) ? busyWarning(machine) : undefined;
  if (warning) log(style.yellow(warning));
  const repeat = values.repeat === undefined ? undefined : integerFlag(String(values.repeat), '--repeat');
  const seed =
    values.seed === undefined ? Date.now() % 100_000 : integerFlag(String(values.seed), '--seed', 0);
  if (repeat !== undefined) log(`Chaos: ${repeat} run(s) per lab, seeds ${seed}..${seed + repeat - 1}.`);
  const only = values.only === undefined ? undefined : String(values.only);
  if (only !== undefined && repeat !== undefined)
    throw new UserError('--only and --repeat do not go together');
  const verdicts: LabVerdict[] = [];
  const store = new ProgressStore(progressFile(REPO_ROOT));
  // --events (the menu): each check as one JSON line on stderr, for it to show as they come.
  const events = values.events
    ? (lab: string) => (event: object) => process.stderr.write(`${JSON.stringify({ lab, ...event })}\n`)
    : undefined;
  // The lab's name and what it took last time, before its checks stream in.
  const header = (lab: LabInfo) => {
    const last = track === 'labs' ? store.lab(lab.name).check?.seconds : undefined;
    log(style.bold(`${lab.name}`) + style.dim(` (${estimate(last, countChecks(lab.spec))})`));
  };
  const done = (lab: LabInfo, verdict: LabVerdict) => {
    verdicts.push(verdict);
    // The attendee's own files: the menu's status and the next hint follow this check, wherever it was run.
    // A partial run (--only) says nothing of the whole lab: not recorded.
    if (track === 'labs' && only === undefined) recordCheck(store, verdict, new Date());
    log(
      `${verdict.verdict === 'pass' ? style.green('✓') : style.red('✗')} ${lab.name} ${verdict.passed}/${verdict.total}`,
    );
  };
  if (repeat === undefined && !values.calibrate) {
    // A plain run: the next lab starts while one runs, labs 00 to 02 side by side (checker/run-labs.ts).
    let progress = new CheckProgress(log);
    await checkLabs(labs, track, {
      only,
      onLabStart: (lab) => {
        header(lab);
        progress = new CheckProgress(log);
      },
      onEvent: (lab, event) => {
        if (events) events(lab.name)(event);
        else if (!quiet) progress.take(event);
      },
      onLabDone: done,
    });
  } else {
    // --repeat and --calibrate: runs of one lab follow one another, each lab on its own.
    const alongside = labs.map((l) => l.name);
    for (const lab of labs) {
      // --calibrate: the reference runs first on this machine; its figures become the attendee's bars' ceiling.
      const env: Record<string, string> = {};
      if (values.calibrate && track !== 'solutions') {
        const reference = await checkLab(lab, 'solutions');
        env.MQ_REFERENCE_MEASUREMENTS = JSON.stringify(
          Object.fromEntries(reference.measurements.map((m) => [m.name, m.value])),
        );
        log(
          style.dim(
            `${lab.name}: reference measured ${reference.measurements.length} figure(s) for calibration.`,
          ),
        );
      }
      header(lab);
      const progress = new CheckProgress(log);
      const onEvent = events ? events(lab.name) : quiet ? undefined : (e: SpecEvent) => progress.take(e);
      const options = { ...(onEvent ? { onEvent } : {}), alongside };
      done(
        lab,
        repeat === undefined
          ? await checkLab(lab, track, env, only, options)
          : await checkLabRepeated(lab, track, repeat, seed, env, options),
      );
    }
  }
  // From this process's start (its own start-up counts: a learner waits for it too), every spec process included.
  const cpuSeconds = cpuSecondsWithChildren();
  const report: CheckReport = {
    machine,
    track,
    labs: verdicts,
    passed: verdicts.every((v) => v.verdict === 'pass'),
    run: {
      seconds: Number(((Date.now() - performance.timeOrigin) / 1000).toFixed(1)),
      ...(cpuSeconds === undefined ? {} : { cpuSeconds }),
      loadAtStart: machine.loadAverage,
      loadAtEnd: loadNow(),
    },
  };
  if (quiet) console.log(JSON.stringify(report, null, 2));
  else {
    printVerdicts(report);
    const { seconds, cpuSeconds, loadAtStart, loadAtEnd } = report.run!;
    log(
      style.dim(
        `Checked in ${seconds} s${cpuSeconds === undefined ? '' : ` (${cpuSeconds} s of CPU)`}, load ${loadAtStart} at the start, ${loadAtEnd} at the end.`,
      ),
    );
  }
  if (jsonFile) {
    writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
    log(`Report written to ${jsonFile}.`);
  }
  if (values.html !== undefined) {
    const htmlFile = String(values.html);
    writeFileSync(htmlFile, checkReportHtml(report));
    // With the JSON on stdout, the line goes to stderr so the JSON stays parseable.
    (quiet ? console.error : console.log)(`Report written to ${htmlFile}.`);
  }
  return report.passed ? 0 : 1;
});
