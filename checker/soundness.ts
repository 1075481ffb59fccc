/**
 * `npm run check:soundness`: is the grader sound on this machine, quiet and busy? Every wrong variant must fail
 * for its named flaw, every run; every reference solution must pass, every run; and neither may change when two
 * busy loops (`yes > /dev/null`, the laptop in a video call) share the cores.
 *
 *   npm run check:soundness                          5 runs of every variant, 10 of every solution, quiet then busy
 *   npm run check:soundness -- --labs 03,05 --variant-runs 2 --solution-runs 3 --busy 2 --json out.json
 *
 * Prints one pass/fail matrix (a row per solution and per variant: quiet k/N, busy k/N) and exits 1 unless every
 * cell is N/N. Variants run `--at-once` at a time (a wrong variant must fail however busy the machine is); the
 * solutions run one after the other, alone but for the busy loops.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { type LabInfo, listLabs } from '../kit/labs.ts';
import { machineFacts } from '../kit/machine.ts';
import { style } from '../kit/ui/style.ts';
import { table } from '../kit/ui/table.ts';
import { runMain, UserError } from '../mini-queue/errors.ts';
import { integerFlag } from '../mini-queue/flags.ts';
import { resolveRedisUrl } from '../mini-queue/redis/resolve.ts';
import { checkLab } from './grade.ts';
import { SpecBatch } from './spec-batch.ts';
import { loadVariants, materialise, removeVariant, type Variant } from './variants.ts';

const HELP = `Usage: npm run check:soundness [-- --labs NN,NN] [--variant-runs N] [--solution-runs N] [--busy N] [--at-once N] [--json FILE]
  --labs            only these labs (default: all)
  --variant-runs    runs of every wrong variant per condition (default 5)
  --solution-runs   runs of every reference solution per condition (default 10)
  --busy            busy loops beside the busy condition (default 2; 0 runs the quiet condition only)
  --at-once         wrong variants graded at the same time (default 4)
  --busy-only       skip the quiet condition (e.g. to repeat the busy one)
  --json FILE       every run's outcome, for a closing note or a CI artifact`;

interface Cell {
  ok: number;
  runs: number;
  /** What a run that was not ok said, once per distinct message. */
  misses: string[];
}

type Condition = 'quiet' | 'busy';
type Row = { kind: 'solution' | 'variant'; lab: string; name: string; cells: Record<Condition, Cell> };

function emptyCell(): Cell {
  return { ok: 0, runs: 0, misses: [] };
}

function note(cell: Cell, ok: boolean, miss: string): void {
  cell.runs++;
  if (ok) cell.ok++;
  else if (!cell.misses.includes(miss)) cell.misses.push(miss);
}

/** `yes > /dev/null`, n times: the busy laptop. Stopped on exit and on Ctrl-C (see runMain). */
function busyLoops(n: number): ChildProcess[] {
  return Array.from({ length: n }, () => spawn('yes', [], { stdio: 'ignore' }));
}

function stop(loops: ChildProcess[]): void {
  for (const loop of loops) loop.kill('SIGKILL');
}

/** Runs `jobs` at most `n` at a time. */
async function inTurns<T>(items: T[], n: number, job: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(n, queue.length) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await job(item);
    }),
  );
}

/** Variant folders on disk now: removed on Ctrl-C too, so an interrupted run leaves no `.variant-*` behind. */
const live = new Set<string>();
process.once('SIGINT', () => {
  for (const track of live) removeVariant(track);
  process.exit(130);
});

/** The variants' specs run one after another in a few long-lived vitest runners, as test/variants.test.ts runs them. */
const batch = new SpecBatch();

async function gradeVariant(lab: LabInfo, variant: Variant): Promise<{ ok: boolean; said: string }> {
  const track = materialise(variant);
  live.add(track);
  try {
    const types = new RegExp(variant.checks).test(`${lab.id} compiles`);
    const verdict = await checkLab(lab, track, {}, variant.checks, { types, runSpec: batch.runSpec });
    if (verdict.verdict === 'pass') return { ok: false, said: 'passed' };
    const named = verdict.checks.some(
      (c) => c.status === 'failed' && variant.flaw.test(`${c.title} ${c.message ?? ''}`),
    );
    return { ok: named, said: named ? '' : `failed, not for ${variant.flaw}: ${verdict.reason}` };
  } finally {
    removeVariant(track);
    live.delete(track);
  }
}

function show(cell: Cell): string {
  const text = `${cell.ok}/${cell.runs}`;
  return cell.runs === 0 ? '' : cell.ok === cell.runs ? style.green(text) : style.red(text);
}

await runMain(async () => {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        labs: { type: 'string' },
        'variant-runs': { type: 'string' },
        'solution-runs': { type: 'string' },
        busy: { type: 'string' },
        'at-once': { type: 'string' },
        'busy-only': { type: 'boolean' },
        json: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UserError(`${(error as Error).message}. See \`npm run check:soundness -- --help\`.`);
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const count = (flag: string, fallback: number, min = 1) =>
    values[flag] === undefined ? fallback : integerFlag(String(values[flag]), `--${flag}`, min);
  const variantRuns = count('variant-runs', 5, 0);
  const solutionRuns = count('solution-runs', 10, 0);
  const busy = count('busy', 2, 0);
  const atOnce = count('at-once', 4);
  const wanted = values.labs === undefined ? undefined : String(values.labs).split(',');
  const labs = listLabs().filter((l) => !wanted || wanted.some((w) => l.name.startsWith(w.padStart(2, '0'))));
  if (labs.length === 0) throw new UserError(`--labs ${values.labs}: no such lab. Try --labs 00,03.`);
  await resolveRedisUrl();
  const variants = (await loadVariants()).filter((v) => labs.some((l) => l.name === v.lab));
  const rows: Row[] = [
    ...labs.map((l) => ({ kind: 'solution' as const, lab: l.name, name: 'reference solution', cells: {} })),
    ...variants.map((v) => ({ kind: 'variant' as const, lab: v.lab, name: v.name, cells: {} })),
  ].map((r) => ({ ...r, cells: { quiet: emptyCell(), busy: emptyCell() } }));
  const rowOf = (kind: Row['kind'], lab: string, name: string) =>
    rows.find((r) => r.kind === kind && r.lab === lab && (kind === 'solution' || r.name === name))!;
  const machine = machineFacts();
  console.log(
    style.dim(
      `Soundness of the grader on ${labs.length} lab(s): ${variants.length} wrong variants × ${variantRuns}, ` +
        `${labs.length} solutions × ${solutionRuns}, quiet${busy > 0 ? ` and beside ${busy} busy loop(s)` : ''}. ` +
        `Machine: ${machine.cores} cores, Node ${machine.node}, load ${machine.loadAverage}.`,
    ),
  );
  if (values['busy-only'] && busy === 0) throw new UserError('--busy-only needs --busy 1 or more.');
  const conditions: Condition[] = values['busy-only'] ? ['busy'] : busy > 0 ? ['quiet', 'busy'] : ['quiet'];
  const started = Date.now();
  for (const condition of conditions) {
    const loops = condition === 'busy' ? busyLoops(busy) : [];
    // Ctrl-C or a crash must not leave the loops spinning on the attendee's laptop.
    const stopLoops = () => stop(loops);
    process.once('exit', stopLoops);
    try {
      for (let run = 1; run <= solutionRuns; run++) {
        for (const lab of labs) {
          const verdict = await checkLab(lab, 'solutions');
          const said = verdict.reason ?? `${verdict.passed}/${verdict.total}`;
          note(rowOf('solution', lab.name, '').cells[condition], verdict.verdict === 'pass', said);
          if (verdict.verdict !== 'pass')
            console.log(style.red(`  ${condition} solution ${lab.name} run ${run}: FAILED: ${said}`));
        }
        console.log(
          style.dim(
            `  ${condition}: solutions run ${run}/${solutionRuns} done (${elapsed(started)}, load ${loadavg()[0]!.toFixed(1)})`,
          ),
        );
      }
      for (let run = 1; run <= variantRuns; run++) {
        await inTurns(variants, atOnce, async (variant) => {
          const lab = labs.find((l) => l.name === variant.lab)!;
          const { ok, said } = await gradeVariant(lab, variant);
          note(rowOf('variant', variant.lab, variant.name).cells[condition], ok, said);
          if (!ok) console.log(style.red(`  ${condition} variant ${variant.name} run ${run}: ${said}`));
        });
        console.log(
          style.dim(
            `  ${condition}: variants run ${run}/${variantRuns} done (${elapsed(started)}, load ${loadavg()[0]!.toFixed(1)})`,
          ),
        );
      }
    } finally {
      stopLoops();
      process.removeListener('exit', stopLoops);
      await batch.close();
    }
  }
  const head = ['lab', 'graded', ...conditions.map((c) => (c === 'busy' ? `busy (${busy} × yes)` : c))];
  console.log(
    table(
      head,
      rows.map((r) => [
        r.lab,
        r.kind === 'solution' ? 'reference solution: passes' : `${r.name}: fails for its flaw`,
        ...conditions.map((c) => show(r.cells[c])),
      ]),
    ),
  );
  const bad = rows.filter((r) => conditions.some((c) => r.cells[c].ok < r.cells[c].runs));
  const runs = rows.reduce((n, r) => n + conditions.reduce((m, c) => m + r.cells[c].runs, 0), 0);
  console.log(
    bad.length === 0
      ? style.green(`Sound: ${runs} runs, every one as it should be (${elapsed(started)}).`)
      : style.red(
          `Not sound: ${bad.length} row(s) with a wrong verdict: ${bad.map((r) => `${r.lab} ${r.name}`).join(', ')} (${elapsed(started)}).`,
        ),
  );
  if (values.json !== undefined) {
    writeFileSync(String(values.json), `${JSON.stringify({ machine, busy, rows }, null, 2)}\n`);
    console.log(`Matrix written to ${values.json}.`);
  }
  return bad.length === 0 ? 0 : 1;
});

function elapsed(since: number): string {
  const s = Math.round((Date.now() - since) / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}
