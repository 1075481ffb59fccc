/**
 * "My files against the solution": a unified diff of each part file, computed here (an LCS over lines: lab
 * files are a few hundred lines) so it needs neither git nor diff(1) and respects NO_COLOR like the rest.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { listFiles } from '../kit/todos.ts';
import { style } from '../kit/ui/style.ts';
import type { Lab } from './labs.ts';

/** Files that belong to the lab only (the demo, its docs), never to the solution. */
const LAB_ONLY = new Set(['index.ts', 'README.md', 'hints.md']);

export interface FileDiff {
  mine: string;
  solution: string;
  /** Unified-diff body lines (` `, `-`, `+`, `@@`), uncoloured. */
  lines: string[];
}

/** The part files of a lab and its solution that differ, as unified diffs with 3 lines of context. */
export function diffLab(lab: Lab, root: string): FileDiff[] {
  const names = new Set<string>();
  for (const folder of [lab.folder, lab.solution]) {
    if (!existsSync(folder)) continue;
    for (const file of listFiles(folder)) {
      const name = relative(folder, file).replace(/\\/g, '/');
      if (!LAB_ONLY.has(name)) names.add(name);
    }
  }
  const out: FileDiff[] = [];
  for (const name of [...names].sort()) {
    const mine = join(lab.folder, name);
    const solution = join(lab.solution, name);
    const a = existsSync(mine) ? readFileSync(mine, 'utf8') : '';
    const b = existsSync(solution) ? readFileSync(solution, 'utf8') : '';
    if (a === b) continue;
    out.push({
      mine: existsSync(mine) ? relative(root, mine).replace(/\\/g, '/') : '(no such file in your lab)',
      solution: existsSync(solution) ? relative(root, solution).replace(/\\/g, '/') : '(not in the solution)',
      lines: unified(splitLines(a), splitLines(b)),
    });
  }
  return out;
}

/** A diff rendered for the terminal: red for yours, green for the solution. */
export function renderDiff(diffs: FileDiff[]): string {
  return diffs
    .map((d) =>
      [
        style.bold(`--- ${d.mine} (yours)`),
        style.bold(`+++ ${d.solution} (solution)`),
        ...d.lines.map((line) =>
          line.startsWith('@@')
            ? style.cyan(line)
            : line.startsWith('-')
              ? style.red(line)
              : line.startsWith('+')
                ? style.green(line)
                : line,
        ),
      ].join('\n'),
    )
    .join('\n\n');
}

/** Lines of a file; the newline that ends the last line does not start another. */
function splitLines(text: string): string[] {
  if (text === '') return [];
  return (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n');
}

type Op = { kind: ' ' | '-' | '+'; text: string; a: number; b: number };

/** Unified diff hunks of two line arrays. */
export function unified(a: string[], b: string[], context = 3): string[] {
  // Longest common subsequence table, from the end, then a forward walk to list the edit script.
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) ops.push({ kind: ' ', text: a[i]!, a: i++, b: j++ });
    // Removals before additions, as diff(1) and git print them.
    else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!))
      ops.push({ kind: '-', text: a[i]!, a: i++, b: j });
    else ops.push({ kind: '+', text: b[j]!, a: i, b: j++ });
  }
  // Group changes that are within 2 * context lines of each other into one hunk.
  const out: string[] = [];
  let k = 0;
  while (k < ops.length) {
    while (k < ops.length && ops[k]!.kind === ' ') k++;
    if (k >= ops.length) break;
    const start = Math.max(0, k - context);
    let end = k;
    let lastChange = k;
    while (end < ops.length && end - lastChange <= 2 * context) {
      if (ops[end]!.kind !== ' ') lastChange = end;
      end++;
    }
    end = Math.min(ops.length, lastChange + context + 1);
    const hunk = ops.slice(start, end);
    const aLines = hunk.filter((o) => o.kind !== '+').length;
    const bLines = hunk.filter((o) => o.kind !== '-').length;
    // diff(1) numbers an empty side by the line before it (`-0,0` for an empty file).
    const from = (at: number, count: number) => (count === 0 ? at : at + 1);
    out.push(`@@ -${from(hunk[0]!.a, aLines)},${aLines} +${from(hunk[0]!.b, bLines)},${bLines} @@`);
    for (const op of hunk) out.push(`${op.kind}${op.text}`);
    k = end;
  }
  return out;
}
