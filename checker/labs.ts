import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../labs/harness/todos.ts';
import { UserError } from '../mini-queue/errors.ts';

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

/** Every lab in labs/, in order, found by folder name (`NN-name`), so adding a lab needs no list edited. */
export function listLabs(): LabInfo[] {
  return readdirSync(join(REPO_ROOT, 'labs'))
    .filter((name) => /^\d\d-[a-z0-9-]+$/.test(name))
    .sort()
    .map((name) => {
      const spec = join(REPO_ROOT, 'checker', 'specs', `${name}.spec.ts`);
      return {
        id: name.slice(0, 2),
        name,
        folder: join(REPO_ROOT, 'labs', name),
        spec: existsSync(spec) ? spec : undefined,
      };
    });
}

/** Picks labs by id (`03`), number (`3`) or name (`03-threads`); all when none is given. */
export function selectLabs(wanted: string[]): LabInfo[] {
  const labs = listLabs();
  if (wanted.length === 0) return labs;
  return wanted.map((w) => {
    const found = labs.find((lab) => lab.id === w.padStart(2, '0') || lab.name === w);
    if (!found) throw new UserError(`no lab '${w}': pick from ${labs.map((l) => l.id).join(', ')}`);
    return found;
  });
}
