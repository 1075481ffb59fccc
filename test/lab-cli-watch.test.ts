/**
 * `npm run watch`: a save re-checks the lab within about a second, by file events or, when those do not arrive
 * (WSL, network drives), by the mtime poll alone; Enter re-checks by hand. Runs on a temp kit with a fake grader.
 */
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { LabVerdict } from '../kit/report.ts';
import { createKit, type Kit, labOf } from '../menu/kit.ts';
import type { Lab } from '../menu/labs.ts';
import { visible } from '../menu/text.ts';
import { type Watcher, watchLabs } from '../menu/watch.ts';
import { makeTempKit, PART_SOLVED, type TempKit } from './fixtures/lab-cli-kit.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const clean of cleanups.splice(0)) clean();
});

function setup(): { k: TempKit; kit: Kit; checked: string[]; lines: string[] } {
  const k = makeTempKit({ git: false });
  const checked: string[] = [];
  const lines: string[] = [];
  const kit = createKit({
    root: k.root,
    out: (line = '') => lines.push(visible(line)),
    err: (line = '') => lines.push(visible(line)),
    check: async (lab: Lab): Promise<LabVerdict> => {
      checked.push(lab.name);
      return {
        lab: lab.name,
        track: 'labs',
        passed: 0,
        total: 1,
        verdict: 'fail',
        todo: `${lab.id}.1`,
        reason: 'not done',
        checks: [],
        measurements: [],
        seconds: 0,
      };
    },
    demo: async () => 0,
  });
  cleanups.push(() => k.remove());
  return { k, kit, checked, lines };
}

function track(watcher: Watcher): Watcher {
  cleanups.unshift(() => watcher.stop());
  return watcher;
}

async function until(condition: () => boolean, ms: number): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}

describe('watch', () => {
  it('checks at once, then again within a second of a save seen only by the mtime poll', async () => {
    const { k, kit, checked, lines } = setup();
    track(watchLabs(kit, { lab: labOf(kit, '00'), input: new PassThrough(), fsEvents: false }));
    await until(() => checked.length === 1, 2000);
    // Let the first check settle so the save below is a change of its own, then save.
    await new Promise((r) => setTimeout(r, 50));
    k.write('labs/00-demo/part.ts', PART_SOLVED);
    const took = await until(() => checked.length === 2, 2500);
    expect(took).toBeLessThan(1500);
    const text = lines.join('\n');
    expect(text).toContain('labs/00-demo/part.ts saved: checking 00-demo');
    expect(text).toContain('TODO(00.1) is next: labs/00-demo/part.ts:2');
    expect(text).toContain('hint 1/3: First nudge for one.');
    expect(text.replace(/\s+/g, ' ')).toContain('File events not arriving? Press Enter to re-check.');
    await new Promise((r) => setTimeout(r, 1200));
    expect(checked).toHaveLength(2); // one save, one check: no echo from the poll
  });

  it('sees a save through file events well before the next poll, in whichever lab it was', async () => {
    const { k, kit, checked } = setup();
    k.write('checker/specs/01-next.spec.ts', '// never run\n');
    track(watchLabs(kit, { input: new PassThrough(), pollMs: 60_000, debounceMs: 50 }));
    await new Promise((r) => setTimeout(r, 100));
    expect(checked).toEqual([]); // no lab given: nothing checked until a save
    k.write('labs/01-next/part.ts', '// TODO(01.1): later, edited\nexport {};\n');
    await until(() => checked.length === 1, 1500);
    expect(checked).toEqual(['01-next']);
  });

  it('re-checks on Enter and stops on q', async () => {
    const { kit, checked, lines } = setup();
    const input = new PassThrough();
    const watcher = track(watchLabs(kit, { lab: labOf(kit, '00'), input, fsEvents: false }));
    await until(() => checked.length === 1, 2000);
    input.write('\n');
    await until(() => checked.length === 2, 1000);
    expect(lines.join('\n')).toContain('Enter pressed: checking 00-demo');
    input.write('q\n');
    await watcher.stopped;
  });
});
