/**
 * The labs as the menu sees them: kit/labs.ts's list (under a root the tests can point at a throw-away
 * copy), plus what each lab has so far.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findLab, type LabInfo, listLabs } from '../kit/labs.ts';

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
  return listLabs(root).map((lab) => {
    const solution = join(root, 'solutions', lab.name);
    return {
      ...lab,
      path: `labs/${lab.name}`,
      solution,
      has: {
        readme: existsSync(join(lab.folder, 'README.md')),
        hints: existsSync(join(lab.folder, 'hints.md')),
        demo: existsSync(join(lab.folder, 'index.ts')),
        spec: lab.spec !== undefined,
        solution: existsSync(solution),
      },
    };
  });
}

export { findLab };
