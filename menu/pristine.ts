/**
 * The pristine starter is the version in git, not a copy kept somewhere else: one source of truth, and the
 * attendee can see it with plain git too. We prefer `origin/HEAD` (the kit as cloned) over `HEAD`, because an
 * attendee who commits their own work moves HEAD, and "reset" must still mean the starter.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../mini-queue/errors.ts';
import type { Lab } from './labs.ts';

export interface Pristine {
  /** The git ref the starter comes from: `origin/HEAD` or `HEAD`. */
  ref: string;
  root: string;
}

export type GitState = { ok: true; pristine: Pristine } | { ok: false; why: string };

function git(root: string, args: string[]) {
  // `-c core.quotepath=off` keeps non-ASCII paths readable; no pager, no colour: we parse the output.
  return spawnSync('git', ['-c', 'core.quotepath=off', '--no-pager', ...args], {
    cwd: root,
    encoding: 'buffer',
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** Where the starter comes from, or one line saying why there is none (no git, not a checkout, no commit). */
export function findPristine(root: string): GitState {
  // The common cases first, one git call each (the menu asks on every redraw): a clone has origin/HEAD.
  for (const ref of ['origin/HEAD', 'HEAD']) {
    const found = git(root, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
    if (found.error)
      return { ok: false, why: 'git is not installed, so there is no pristine starter to go back to' };
    if (found.status === 0) return { ok: true, pristine: { ref, root } };
  }
  const inside = git(root, ['rev-parse', '--is-inside-work-tree']);
  if (inside.status !== 0) {
    // git's own words only when they add something (e.g. "dubious ownership" on a shared or WSL drive).
    const first = inside.stderr.toString().trim().split('\n')[0] ?? '';
    const said = /not a git repository/.test(first) ? '' : first;
    return {
      ok: false,
      why: `this kit is not a git checkout, so there is no pristine starter to go back to${said ? ` (git: ${said})` : ''}`,
    };
  }
  return {
    ok: false,
    why: 'this git checkout has no commit yet, so there is no pristine starter to go back to',
  };
}

export interface Difference {
  /** Kit-relative path, forward slashes: `labs/00-broker/broker.ts`. */
  path: string;
  /** M: changed, D: deleted (in the starter, gone here), A: added to git's index but not in the starter. */
  change: 'M' | 'D' | 'A';
}

/**
 * The files under `paths` that differ from the starter. One `git diff` for all the labs keeps the menu fast;
 * git also applies the checkout's own rules (line endings on Windows/WSL), which a byte compare would not.
 * Files git does not know (new, untracked) are never listed: they are not part of the starter.
 */
export function differences({ ref, root }: Pristine, paths: string[]): Difference[] {
  const result = git(root, [
    'diff',
    '--no-renames',
    '--relative',
    '--name-status',
    '-z',
    ref,
    '--',
    ...paths,
  ]);
  if (result.status !== 0) throw new UserError(`git diff failed: ${result.stderr.toString().trim()}`);
  const fields = result.stdout.toString().split('\0').filter(Boolean);
  const out: Difference[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const change = fields[i]!.charAt(0);
    if (change === 'M' || change === 'D' || change === 'A' || change === 'T') {
      out.push({ path: fields[i + 1]!, change: change === 'T' ? 'M' : change });
    }
  }
  return out;
}

/** Whether the starter has anything under `path` (a lab still being written may not be in git yet). */
export function inStarter({ ref, root }: Pristine, path: string): boolean {
  const result = git(root, ['ls-tree', '--name-only', ref, '--', `./${path}`]);
  return result.status === 0 && result.stdout.length > 0;
}

/** The starter's bytes of one file. `<ref>:./path` is relative to the kit root, even inside a bigger repo. */
export function starterFile({ ref, root }: Pristine, path: string): Buffer | undefined {
  const result = git(root, ['show', `${ref}:./${path}`]);
  return result.status === 0 ? result.stdout : undefined;
}

export interface ResetResult {
  lab: string;
  /** Files put back (kit-relative). */
  restored: string[];
  /** The backup folder (kit-relative), when anything was overwritten. */
  backup?: string;
  /** Files git's index has but the starter does not: the attendee's own, left alone. */
  leftAlone: string[];
}

/**
 * Puts a lab's files back to the starter. Everything about to be overwritten is first copied, with its folder
 * layout, to `.lab-backups/<lab>-<timestamp>/`, so a reset by mistake costs nothing.
 */
export function resetLab(pristine: Pristine, lab: Lab, now: Date): ResetResult {
  const diffs = differences(pristine, [lab.path]);
  const result: ResetResult = { lab: lab.name, restored: [], leftAlone: [] };
  let backup: string | undefined;
  for (const diff of diffs) {
    if (diff.change === 'A') {
      result.leftAlone.push(diff.path);
      continue;
    }
    const content = starterFile(pristine, diff.path);
    if (content === undefined) continue;
    const file = join(pristine.root, diff.path);
    if (existsSync(file)) {
      backup ??= backupFolder(pristine.root, lab.name, now);
      const copy = join(pristine.root, backup, diff.path.slice(lab.path.length + 1));
      mkdirSync(dirname(copy), { recursive: true });
      copyFileSync(file, copy);
    }
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    result.restored.push(diff.path);
  }
  if (backup) result.backup = backup;
  return result;
}

/** `.lab-backups/00-broker-2026-11-24T10-42-03Z`, with `-2`, `-3` when two resets land in the same second. */
function backupFolder(root: string, lab: string, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
  let name = `.lab-backups/${lab}-${stamp}`;
  for (let n = 2; existsSync(join(root, name)); n++) name = `.lab-backups/${lab}-${stamp}-${n}`;
  mkdirSync(join(root, name), { recursive: true });
  return name;
}
