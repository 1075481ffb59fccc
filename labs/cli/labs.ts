/**
 * Finding labs under a kit root. The same rule as checker/labs.ts (folders named `NN-name`), but with the root
 * passed in, so the tests can point the whole CLI at a throw-away copy instead of the attendee's real files.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LabInfo } from '../../checker/labs.ts';
import { UserError } from '../../mini-queue/errors.ts';

export interface Lab extends LabInfo {
  /** `labs/00-broker`, relative to the kit root, with forward slashes (also the git path). */
  path: string;
  /** Absolute path of the reference, `solutions/NN-name`. */
  solution: string;
  /** Whether the lab has what the menu needs; a lab still being written may lack some of it. */
  has: { readme: boolean; hints: boolean; demo: boolean; spec: boolean; solution: boolean };
}

/** The labs under `root`, in order. A lab's files are read fresh each time: helpers add labs while we run. */
export function discoverLabs(root: string): Lab[] {
  const labsDir = join(root, 'labs');
  if (!existsSync(labsDir)) return [];
  return readdirSync(labsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && /^\d\d-[a-z0-9-]+$/.test(entry.name))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const folder = join(labsDir, name);
      const specFile = join(root, 'checker', 'specs', `${name}.spec.ts`);
      const solution = join(root, 'solutions', name);
      const spec = existsSync(specFile) ? specFile : undefined;
      return {
        id: name.slice(0, 2),
        name,
        folder,
        spec,
        path: `labs/${name}`,
        solution,
        has: {
          readme: existsSync(join(folder, 'README.md')),
          hints: existsSync(join(folder, 'hints.md')),
          demo: existsSync(join(folder, 'index.ts')),
          spec: spec !== undefined,
          solution: existsSync(solution),
        },
      };
    });
}

/**
 * One lab by what a person would type: `00`, `0`, `00-broker`, `broker` or a path such as `labs/00-broker/`.
 * Unknown input is a UserError that lists what exists.
 */
export function findLab(labs: Lab[], wanted: string): Lab {
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
