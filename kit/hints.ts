import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Staged hints, outside the code (rustlings' info.toml idea), one `hints.md` per lab:
 *
 *   ## 00.1
 *   1. A first nudge.
 *   2. More.
 *   3. Nearly the answer.
 *
 * Returns, per TODO id, the hints in order.
 */
export function readHints(labFolder: string): Map<string, string[]> {
  const file = join(labFolder, 'hints.md');
  const hints = new Map<string, string[]>();
  if (!existsSync(file)) return hints;
  let current: string[] | undefined;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const heading = /^##\s+(\d\d\.\d+)\b/.exec(line);
    if (heading) {
      current = [];
      hints.set(heading[1]!, current);
      continue;
    }
    const item = /^\d+\.\s+(.*)$/.exec(line);
    if (item && current) current.push(item[1]!.trim());
    else if (current && current.length > 0 && /^\s{2,}\S/.test(line)) {
      current[current.length - 1] += ` ${line.trim()}`;
    }
  }
  return hints;
}
