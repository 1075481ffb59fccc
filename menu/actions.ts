/**
 * What each menu entry and each subcommand does, written once: the menu (menu.ts) and the plain-text CLI
 * (main.ts) both call these. Confirmation is not asked here: the caller decides (a prompt, or `--yes`).
 */
import { join } from 'node:path';
import { CheckProgress, countChecks, estimate, failureLine } from '../kit/check-progress.ts';
import { readHints } from '../kit/hints.ts';
import { recordCheck } from '../kit/progress.ts';
import type { LabVerdict } from '../kit/report.ts';
import { style } from '../kit/ui/style.ts';
import { table } from '../kit/ui/table.ts';
import { describeError, UserError } from '../mini-queue/errors.ts';
import type { Track } from '../mini-queue/parts.ts';
import { diffLab, renderDiff } from './diff.ts';
import { currentTodo, markers, nextHint } from './hints.ts';
import { gitOf, type Kit, labsOf } from './kit.ts';
import type { Lab } from './labs.ts';
import { inStarter, resetLab } from './pristine.ts';
import { type LabStatus, labStatuses } from './status.ts';
import { wrap } from './text.ts';

export function statuses(kit: Kit): LabStatus[] {
  const progress = kit.store.load();
  if (kit.store.warning) {
    kit.err(style.yellow(kit.store.warning));
    kit.store.warning = undefined;
  }
  return labStatuses(labsOf(kit), progress, gitOf(kit), kit.now());
}

const MARK = { done: '✓', 'in progress': '…', 'not started': '·' } as const;

/** The lab list as a table: lab, status, what happened last. */
export function listLabsText(kit: Kit): string {
  const rows = statuses(kit).map((s) => [
    s.lab.name,
    `${MARK[s.status]} ${s.status}`,
    s.detail.length > 40 ? `${s.detail.slice(0, 39)}…` : s.detail,
  ]);
  if (rows.length === 0) return `no labs found under ${join(kit.root, 'labs')}`;
  return table(['lab', 'status', 'last'], rows);
}

/** Runs the demo; returns its exit code. */
export async function runDemo(kit: Kit, lab: Lab, track: Track): Promise<number> {
  if (!lab.has.demo) {
    kit.out(`lab ${lab.id} has no demo yet (${lab.path}/index.ts): it is still being written.`);
    return 1;
  }
  const code = await kit.demo(lab, track);
  kit.store.update(lab.name, (r) => {
    r.run = {
      at: kit.now().toISOString(),
      track: track === 'solutions' ? 'solutions' : 'labs',
      ok: code === 0,
    };
  });
  kit.out(
    code === 0
      ? style.green(
          `The demo on ${track === 'solutions' ? 'the solution' : 'your files'} completed correctly.`,
        )
      : style.yellow(`The demo ended with exit code ${code}.`),
  );
  return code;
}

/** Grades the attendee's files, records the verdict, prints it with the first failing TODO and its hint. */
export async function checkOne(kit: Kit, lab: Lab): Promise<LabVerdict | undefined> {
  if (!lab.has.spec) {
    kit.out(
      `lab ${lab.id} has no checks yet (checker/specs/${lab.name}.spec.ts): it is still being written.`,
    );
    return undefined;
  }
  const last = kit.store.lab(lab.name).check?.seconds;
  const spec = join(kit.root, 'checker', 'specs', `${lab.name}.spec.ts`);
  kit.out(style.dim(`Checking ${lab.name} on your files (${estimate(last, countChecks(spec))})…`));
  const progress = new CheckProgress((line) => kit.out(line));
  let verdict: LabVerdict;
  try {
    verdict = await kit.check(lab, 'labs', (event) => progress.take(event));
  } catch (error) {
    // No Redis, or the grader itself failed: say so and record nothing, the lab's status has not changed.
    kit.err(style.red(describeError(error)));
    return undefined;
  }
  recordCheck(kit.store, verdict, kit.now());
  kit.out(verdictText(kit, lab, verdict));
  return verdict;
}

/**
 * A verdict in a few lines: pass; or the first failing check in TODO order, the learner's file:line and what was
 * expected (a stub not written yet: its TODO and where it is); then the hint shown so far for that TODO.
 */
export function verdictText(kit: Kit, lab: Lab, verdict: LabVerdict): string {
  const score = `${verdict.passed}/${verdict.total} checks passed`;
  if (verdict.verdict === 'pass') {
    return `${style.green('✓')} ${style.bold(lab.name)}: ${score}. ${style.green('Done.')} Pick the next lab when you are ready.`;
  }
  const lines = [`${style.red('✗')} ${style.bold(lab.name)}: ${score}.`];
  const first = verdict.firstFailure;
  const missed = first && !first.stub;
  if (missed) {
    lines.push(wrap(`First to fix: ${first.check}`, '  '));
    lines.push(wrap(failureLine(first), '    ', 4));
  } else if (verdict.todo) {
    const where = markers(lab, kit.root).find((t) => t.id === verdict.todo)?.where;
    lines.push(wrap(`TODO(${verdict.todo}) is next${where ? `: ${where}` : ''}`, '  '));
  } else if (verdict.reason) {
    lines.push(wrap(verdict.reason, '  '));
  }
  if (verdict.todo) {
    // The most detailed hint already revealed, else the first: the attendee asked for those, show them again.
    const all = readHints(lab.folder).get(verdict.todo) ?? [];
    const seen = Math.max(1, kit.store.lab(lab.name).hints[verdict.todo] ?? 0);
    const hint = all[Math.min(seen, all.length) - 1] ?? verdict.hint;
    const label = `  hint ${Math.min(seen, all.length)}/${all.length}${missed ? ` for TODO(${verdict.todo})` : ''}: `;
    if (hint) lines.push(wrap(hint, label, 4));
    if (all.length > seen)
      lines.push(style.dim(`  more: "Next hint" in the menu, or npx tsx labs hint ${lab.id}`));
  }
  return lines.join('\n');
}

/** Shows one more staged hint for the current TODO. */
export function hintOne(kit: Kit, lab: Lab): void {
  const answer = nextHint(lab, kit.root, kit.store);
  if (answer.kind === 'none-left') {
    kit.out(answer.reason);
    return;
  }
  const { todo, shown, stage, of } = answer;
  const why =
    todo.from === 'check' ? 'the first failing TODO of your last check' : 'the first TODO in your files';
  kit.out(style.bold(`TODO(${todo.id})`) + (todo.where ? ` at ${todo.where}` : '') + style.dim(` (${why})`));
  shown.forEach((hint, i) => {
    const text = wrap(hint, `  ${i + 1}/${of}. `, 7);
    kit.out(i === stage - 1 ? text : style.dim(text));
  });
  kit.out(
    style.dim(
      answer.last
        ? `  That was the last hint for TODO(${todo.id}). Still stuck? The solution diff shows it (it spoils).`
        : `  Ask again for hint ${stage + 1}/${of}.`,
    ),
  );
}

/** Puts a lab back to the starter (with a backup) and forgets its last check, which no longer fits the files. */
export function resetOne(kit: Kit, lab: Lab): void {
  const git = gitOf(kit);
  if (!git.ok) throw new UserError(git.why);
  if (!inStarter(git.pristine, lab.path)) {
    kit.out(
      `${lab.name}: not in git (${git.pristine.ref}) yet, so there is no starter to go back to; left as is.`,
    );
    return;
  }
  const result = resetLab(git.pristine, lab, kit.now());
  kit.store.update(lab.name, (r) => {
    delete r.check;
    r.reset = kit.now().toISOString();
  });
  if (result.restored.length === 0) {
    kit.out(`${lab.name}: your files already match the starter (${git.pristine.ref}); nothing to back up.`);
  } else {
    kit.out(
      `${lab.name}: ${result.restored.length} file(s) back to the starter (${git.pristine.ref}): ${result.restored
        .map((p) => p.slice(lab.path.length + 1))
        .join(', ')}.`,
    );
    if (result.backup) kit.out(`  what you had is in ${result.backup}/`);
  }
  if (result.leftAlone.length > 0)
    kit.out(`  left alone (not part of the starter): ${result.leftAlone.join(', ')}`);
  kit.out(style.dim('  Hints you have seen stay seen.'));
}

export function resetAll(kit: Kit): void {
  const git = gitOf(kit);
  if (!git.ok) throw new UserError(git.why);
  for (const lab of labsOf(kit)) resetOne(kit, lab);
}

export function diffOne(kit: Kit, lab: Lab): void {
  if (!lab.has.solution) {
    kit.out(`lab ${lab.id} has no solution yet (solutions/${lab.name}).`);
    return;
  }
  const diffs = diffLab(lab, kit.root);
  kit.out(diffs.length === 0 ? `${lab.name}: your files match the solution.` : renderDiff(diffs));
}

export function readmeOne(kit: Kit, lab: Lab): void {
  if (!lab.has.readme) {
    kit.out(`lab ${lab.id} has no README yet (${lab.path}/README.md).`);
    return;
  }
  kit.out(join(lab.folder, 'README.md'));
}

/** "TODO(00.1): 1/3 hints seen", for the menu's hint entry. */
export function hintLabel(kit: Kit, lab: Lab): string {
  const record = kit.store.lab(lab.name);
  const todo = currentTodo(lab, kit.root, record);
  if (!todo) return 'no TODO left';
  const of = readHints(lab.folder).get(todo.id)?.length ?? 0;
  return `TODO(${todo.id}): ${Math.min(record.hints[todo.id] ?? 0, of)}/${of} seen`;
}
