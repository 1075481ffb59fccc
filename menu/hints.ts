/**
 * Staged hints (rustlings' idea): each request shows one more hint for the current TODO, and the count is kept
 * in the progress file, so a restart does not start the staging over and does not skip ahead either.
 * The current TODO is the first failing one from the last check (what the grader says is wrong), else the
 * first `TODO(NN.k)` marker still in the files (the attendee has not checked yet).
 */
import { relative } from 'node:path';
import { readHints } from '../kit/hints.ts';
import type { LabProgress, ProgressStore } from '../kit/progress.ts';
import { findTodos, REPO_ROOT } from '../kit/todos.ts';
import type { Lab } from './labs.ts';

export interface CurrentTodo {
  id: string;
  /** Kit-relative `file:line` of its marker, when the marker is still in the files. */
  where?: string;
  /** Why this one: the last check named it, or it is the first marker left. */
  from: 'check' | 'marker';
}

/** The markers left in a lab, with `where` relative to `root` (findTodos makes it relative to the real kit). */
export function markers(lab: Lab, root: string): Array<{ id: string; where: string }> {
  return findTodos(lab.folder).map((t) => ({
    id: t.id,
    where: relative(root, `${REPO_ROOT}/${t.where}`).replace(/\\/g, '/'),
  }));
}

export function currentTodo(lab: Lab, root: string, record: LabProgress): CurrentTodo | undefined {
  const left = markers(lab, root);
  const fromCheck = record.check?.verdict === 'fail' ? record.check.todo : undefined;
  if (fromCheck) {
    const where = left.find((t) => t.id === fromCheck)?.where;
    return { id: fromCheck, from: 'check', ...(where ? { where } : {}) };
  }
  const first = left[0];
  return first ? { id: first.id, where: first.where, from: 'marker' } : undefined;
}

export type HintAnswer =
  | { kind: 'hint'; todo: CurrentTodo; shown: string[]; stage: number; of: number; last: boolean }
  | { kind: 'none-left'; reason: string };

/** Reveals the next hint of the current TODO (or repeats all of them once the last was shown) and records it. */
export function nextHint(lab: Lab, root: string, store: ProgressStore): HintAnswer {
  const record = store.lab(lab.name);
  const todo = currentTodo(lab, root, record);
  if (!todo) {
    return {
      kind: 'none-left',
      reason:
        record.check?.verdict === 'pass'
          ? `lab ${lab.id} passed its check and has no TODO left: nothing to hint`
          : `no TODO(${lab.id}.k) marker left in ${lab.path}: run a check to see what is still wrong`,
    };
  }
  const all = readHints(lab.folder).get(todo.id) ?? [];
  if (all.length === 0) {
    return { kind: 'none-left', reason: `${lab.path}/hints.md has no hints for TODO(${todo.id}) yet` };
  }
  const seen = Math.min(record.hints[todo.id] ?? 0, all.length);
  const stage = Math.min(seen + 1, all.length);
  store.update(lab.name, (r) => {
    r.hints[todo.id] = stage;
  });
  return {
    kind: 'hint',
    todo,
    shown: all.slice(0, stage),
    stage,
    of: all.length,
    last: stage === all.length,
  };
}
