import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../mini-queue/errors.ts';
import { REPO_ROOT } from './todos.ts';

export interface LabInfo {
  /** `00` */
  id: string;
  /** `00-broker` */
  name: string;
  /** Absolute path of the lab folder. */
  folder: string;
  /** Absolute path of its spec file, when it has one. */
  spec: string | undefined;
}

/**
 * Every lab under `root`'s labs/, in order, found by folder name (`NN-name`), so adding a lab needs no list
 * edited. `root` is the kit (the lab CLI's tests point it at a throw-away copy).
 */
export function listLabs(root: string = REPO_ROOT): LabInfo[] {
  const labsDir = join(root, 'labs');
  if (!existsSync(labsDir)) return [];
  return readdirSync(labsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && /^\d\d-[a-z0-9-]+$/.test(entry.name))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const spec = join(root, 'checker', 'specs', `${name}.spec.ts`);
      return {
        id: name.slice(0, 2),
        name,
        folder: join(labsDir, name),
        spec: existsSync(spec) ? spec : undefined,
      };
    });
}

/**
 * One lab by what a person would type: `00`, `0`, `00-broker`, `broker` or a path such as `labs/00-broker/`.
 * Unknown input is a UserError that lists what exists.
 */
export function findLab<T extends LabInfo>(labs: T[], wanted: string): T {
  const w = wanted
    .trim()
    .replace(/\\/g, '/')
    .replace(/\/+$/, '')
    .replace(/^(\.\/)?labs\//, '');
  const found = labs.find(
    (lab) =>
      lab.name === w || lab.id === (/^\d{1,2}$/.test(w) ? w.padStart(2, '0') : w) || lab.name.slice(3) === w,
  );
  if (found) return found;
  const known = labs.map((l) => l.id).join(', ') || 'none yet';
  throw new UserError(`no lab '${wanted}': pick one of ${known} (see \`npx tsx labs list\`)`);
}

/** The labs named on the command line; all of them when none is. */
export function selectLabs(wanted: string[]): LabInfo[] {
  const labs = listLabs();
  return wanted.length === 0 ? labs : wanted.map((w) => findLab(labs, w));
}
