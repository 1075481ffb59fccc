/**
 * The lab CLI (menu/): progress file, pristine/reset, staged hints, status, diff, and the menu flows driven
 * with scripted answers. Everything runs against a temp kit (test/fixtures/lab-cli-kit.ts), never the real labs.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProgressStore } from '../kit/progress.ts';
import type { LabVerdict } from '../kit/report.ts';
import { checkOne, hintOne, resetOne, statuses } from '../menu/actions.ts';
import { unified } from '../menu/diff.ts';
import { createKit, type Kit, labOf } from '../menu/kit.ts';
import { discoverLabs, findLab } from '../menu/labs.ts';
import { menuActions } from '../menu/main.ts';
import { type MenuItem, type Prompts, runMenu } from '../menu/menu.ts';
import { visible } from '../menu/text.ts';
import { UserError } from '../mini-queue/errors.ts';
import { makeTempKit, PART_SOLVED, PART_STARTER, type TempKit } from './fixtures/lab-cli-kit.ts';

const kits: TempKit[] = [];
afterEach(() => {
  for (const k of kits.splice(0)) k.remove();
});

function tempKit(options?: { git?: boolean }): TempKit {
  const k = makeTempKit(options);
  kits.push(k);
  return k;
}

/** A grader stand-in: fails on the first TODO marker left in part.ts, passes when none is left. */
async function fakeCheck(lab: { name: string; folder: string }): Promise<LabVerdict> {
  const text = readFileSync(join(lab.folder, 'part.ts'), 'utf8');
  const todo = /TODO\((\d\d\.\d+)\)/.exec(text)?.[1];
  const base = {
    lab: lab.name,
    track: 'labs' as const,
    total: 2,
    checks: [],
    measurements: [],
    seconds: 0.1,
  };
  return todo
    ? { ...base, passed: 0, verdict: 'fail', todo, reason: `TODO(${todo}) not done`, hint: 'first hint' }
    : { ...base, passed: 2, verdict: 'pass' };
}

function testKit(root: string): { kit: Kit; lines: string[]; demos: string[] } {
  const lines: string[] = [];
  const demos: string[] = [];
  const kit = createKit({
    root,
    out: (line = '') => lines.push(...visible(line).split('\n')),
    err: (line = '') => lines.push(...visible(line).split('\n')),
    now: () => new Date('2026-11-24T10:00:00Z'),
    check: (lab) => fakeCheck(lab),
    demo: async (lab, track) => {
      demos.push(`${lab.id}:${track}`);
      return 0;
    },
  });
  return { kit, lines, demos };
}

type Answer = string | boolean;

/**
 * Prompts that answer from a script: a string picks the first enabled choice whose name contains it, a boolean
 * answers a confirm. Every question is recorded so a test can see what the attendee would have seen.
 */
function scripted(answers: Answer[]) {
  const asked: Array<{ message: string; choices: string[]; default?: unknown }> = [];
  const prompts: Prompts = {
    async select<T>(q: { message: string; choices: MenuItem<T>[]; default?: T }) {
      const choices = q.choices.filter((c) => 'value' in c);
      asked.push({ message: q.message, choices: choices.map((c) => visible(c.name)), default: q.default });
      const answer = answers.shift();
      if (typeof answer !== 'string') throw new Error(`script expected a select answer for "${q.message}"`);
      const found = choices.find((c) => visible(c.name).includes(answer) && !c.disabled);
      if (!found)
        throw new Error(`no enabled choice "${answer}" in ${choices.map((c) => c.name).join(' | ')}`);
      return found.value;
    },
    async confirm(q) {
      asked.push({ message: q.message, choices: [] });
      const answer = answers.shift();
      if (typeof answer !== 'boolean') throw new Error(`script expected a confirm answer for "${q.message}"`);
      return answer;
    },
  };
  return { prompts, asked, left: answers };
}

describe('progress file', () => {
  it('round-trips through the file and survives a new store (a restart)', () => {
    const k = tempKit({ git: false });
    const file = join(k.root, '.progress', 'progress.json');
    const first = new ProgressStore(file);
    first.update('00-demo', (r) => {
      r.hints['00.1'] = 2;
      r.check = { at: '2026-11-24T10:00:00.000Z', verdict: 'fail', passed: 1, total: 3, todo: '00.1' };
    });
    const again = new ProgressStore(file).load();
    expect(again.lastLab).toBe('00-demo');
    expect(again.labs['00-demo']).toEqual({
      hints: { '00.1': 2 },
      check: { at: '2026-11-24T10:00:00.000Z', verdict: 'fail', passed: 1, total: 3, todo: '00.1' },
    });
    expect(readdirSync(join(k.root, '.progress'))).toEqual(['progress.json']); // no temp file left behind
  });

  it('moves an unreadable file aside, says so, and starts fresh', () => {
    const k = tempKit({ git: false });
    k.write('.progress/progress.json', '{ half a fi');
    const store = new ProgressStore(join(k.root, '.progress', 'progress.json'));
    expect(store.load()).toEqual({ version: 1, labs: {} });
    expect(store.warning).toMatch(/unreadable .* kept it as .*progress\.json\.unreadable-\d+/);
    expect(
      readdirSync(join(k.root, '.progress')).some((f) => f.startsWith('progress.json.unreadable-')),
    ).toBe(true);
  });
});

describe('labs', () => {
  it('are found by folder, with what each has', () => {
    const k = tempKit({ git: false });
    const labs = discoverLabs(k.root);
    expect(labs.map((l) => l.name)).toEqual(['00-demo', '01-next']);
    expect(labs[0]!.has).toEqual({ readme: true, hints: true, demo: true, spec: true, solution: true });
    expect(labs[1]!.has).toMatchObject({ demo: false, spec: false, hints: false });
    for (const wanted of ['00', '0', '00-demo', 'demo', 'labs/00-demo/'])
      expect(findLab(labs, wanted).name).toBe('00-demo');
    expect(() => findLab(labs, '7')).toThrow(UserError);
    expect(() => findLab(labs, '7')).toThrow("no lab '7': pick one of 00, 01");
  });
});

describe('staged hints', () => {
  it('shows one more each time for the first TODO left, then stays on the last', () => {
    const { kit, lines } = testKit(tempKit({ git: false }).root);
    const lab = labOf(kit, '00');
    for (let i = 0; i < 4; i++) hintOne(kit, lab);
    const text = lines.join('\n');
    expect(text).toContain('TODO(00.1) at labs/00-demo/part.ts:2 (the first TODO in your files)');
    expect(text.match(/1\/3\. First nudge/g)).toHaveLength(4);
    expect(text.match(/2\/3\. Second, more/g)).toHaveLength(3);
    expect(text.match(/3\/3\. `return a \+ b;`/g)).toHaveLength(2);
    expect(text).toContain('That was the last hint for TODO(00.1)');
    expect(kit.store.lab('00-demo').hints).toEqual({ '00.1': 3 });
  });

  it('follows the first failing TODO of the last check, and is remembered across restarts', async () => {
    const k = tempKit({ git: false });
    k.write(
      'labs/00-demo/part.ts',
      PART_STARTER.replace("throw new Error('TODO(00.1)');", 'return a + b;').replace(
        '// TODO(00.1): return the sum.',
        '',
      ),
    );
    const { kit, lines } = testKit(k.root);
    const lab = labOf(kit, '00');
    await checkOne(kit, lab);
    hintOne(kit, lab);
    const restarted = testKit(k.root);
    hintOne(restarted.kit, labOf(restarted.kit, '00'));
    expect(lines.join('\n')).toMatch(
      /TODO\(00\.2\) at labs\/00-demo\/part\.ts:\d+ \(the first failing TODO of your last check\)/,
    );
    expect(restarted.lines.join('\n')).toContain('1/1. Only hint for two.');
    expect(restarted.kit.store.lab('00-demo').hints).toEqual({ '00.2': 1 });
  });
});

describe('reset', () => {
  it('puts changed and deleted files back, backs up what was there, keeps untracked files', () => {
    const k = tempKit();
    k.write('labs/00-demo/part.ts', PART_SOLVED);
    rmSync(join(k.root, 'labs/00-demo/lua/x.lua'));
    k.write('labs/00-demo/mine.ts', 'export const mine = 1;\n');
    const { kit, lines } = testKit(k.root);
    kit.store.update('00-demo', (r) => {
      r.hints['00.1'] = 2;
      r.check = { at: 'x', verdict: 'pass', passed: 2, total: 2 };
    });
    resetOne(kit, labOf(kit, '00'));
    expect(readFileSync(join(k.root, 'labs/00-demo/part.ts'), 'utf8')).toBe(PART_STARTER);
    expect(existsSync(join(k.root, 'labs/00-demo/lua/x.lua'))).toBe(true);
    expect(readFileSync(join(k.root, 'labs/00-demo/mine.ts'), 'utf8')).toBe('export const mine = 1;\n');
    const backups = readdirSync(join(k.root, '.lab-backups'));
    expect(backups).toEqual(['00-demo-2026-11-24T10-00-00Z']);
    expect(readFileSync(join(k.root, '.lab-backups', backups[0]!, 'part.ts'), 'utf8')).toBe(PART_SOLVED);
    expect(lines.join('\n')).toContain('what you had is in .lab-backups/00-demo-2026-11-24T10-00-00Z/');
    // The check described the old files: forgotten. The hints were seen: kept.
    expect(kit.store.lab('00-demo')).toEqual({ hints: { '00.1': 2 }, reset: '2026-11-24T10:00:00.000Z' });
    resetOne(kit, labOf(kit, '00'));
    expect(lines.join('\n')).toContain('already match the starter (HEAD)');
  });

  it('prefers origin/HEAD, so committed work still resets to the starter', () => {
    const k = tempKit();
    k.git('update-ref', 'refs/remotes/origin/HEAD', 'HEAD');
    k.write('labs/00-demo/part.ts', PART_SOLVED);
    k.git('commit', '-q', '-am', 'my work');
    const { kit, lines } = testKit(k.root);
    resetOne(kit, labOf(kit, '00'));
    expect(readFileSync(join(k.root, 'labs/00-demo/part.ts'), 'utf8')).toBe(PART_STARTER);
    expect(lines.join('\n')).toContain('(origin/HEAD)');
  });

  it('says in one line that a kit outside git has no starter to go back to', () => {
    const { kit } = testKit(tempKit({ git: false }).root);
    expect(() => resetOne(kit, labOf(kit, '00'))).toThrow(
      /^this kit is not a git checkout, so there is no pristine starter/,
    );
  });
});

describe('status', () => {
  it('goes not started → in progress (an edit) → done (a passing check)', async () => {
    const k = tempKit();
    const { kit } = testKit(k.root);
    const status = () => statuses(kit).find((s) => s.lab.name === '00-demo')!;
    expect(status().status).toBe('not started');
    k.write('labs/00-demo/part.ts', PART_SOLVED);
    expect(status()).toMatchObject({ status: 'in progress', changed: ['labs/00-demo/part.ts'] });
    await checkOne(kit, labOf(kit, '00'));
    expect(status()).toMatchObject({ status: 'done', detail: expect.stringContaining('passed 2/2') });
    expect(statuses(kit).find((s) => s.lab.name === '01-next')!.detail).toBe('being written');
  });
});

describe('diff', () => {
  it('prints hunks as diff -u does', () => {
    const a = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
    const b = ['a', 'b', 'c', 'D', 'e', 'f', 'g', 'h', 'i', 'j', 'k'];
    expect(unified(a, b)).toEqual([
      '@@ -1,7 +1,7 @@',
      ' a',
      ' b',
      ' c',
      '-d',
      '+D',
      ' e',
      ' f',
      ' g',
      '@@ -8,3 +8,4 @@',
      ' h',
      ' i',
      ' j',
      '+k',
    ]);
    expect(unified([], ['x'])).toEqual(['@@ -0,0 +1,1 @@', '+x']);
  });
});

describe('menu', () => {
  it('runs the solution, shows two hints, resets, quits; a restart shows what happened', async () => {
    const k = tempKit();
    k.write('labs/00-demo/part.ts', `${PART_STARTER}// my edit\n`);
    const { kit, lines, demos } = testKit(k.root);
    const script = scripted([
      '00-demo',
      'Run the demo on the solution',
      'Next hint',
      'Next hint',
      'Reset my files',
      true,
      'Quit',
    ]);
    expect(await runMenu(script.prompts, menuActions(kit), kit.out)).toBe(0);
    expect(script.left).toEqual([]);
    expect(demos).toEqual(['00:solutions']);
    expect(readFileSync(join(k.root, 'labs/00-demo/part.ts'), 'utf8')).toBe(PART_STARTER);
    expect(readdirSync(join(k.root, '.lab-backups'))).toHaveLength(1);
    const text = lines.join('\n');
    expect(text).toContain('The demo on the solution completed correctly.');
    expect(text).toContain('2/3. Second, more.');
    expect(text).toContain('Bye.');
    // The lab menu kept the cursor on the last action (Enter = the same again) and never moved on by itself.
    const labMenus = script.asked.filter((q) => q.message.startsWith('Lab 00-demo'));
    expect(labMenus.map((q) => q.default)).toEqual(['run', 'run-solution', 'hint', 'hint', 'reset']);
    expect(labMenus[3]!.choices).toContain('Next hint (TODO(00.1): 2/3 seen)');

    const restart = scripted(['Quit']);
    await runMenu(restart.prompts, menuActions(testKit(k.root).kit), () => {});
    const list = restart.asked[0]!;
    expect(list.default).toEqual({ lab: '00-demo' });
    expect(list.choices.find((c) => c.startsWith('00-demo'))).toMatch(
      /^00-demo\s+… in progress\s+2 hints, reset/,
    );
    expect(list.choices.find((c) => c.startsWith('01-next'))).toMatch(/not started/);
  });

  it('shows the diff only after a yes, and stays on the lab after a passing check', async () => {
    const k = tempKit();
    k.write('labs/00-demo/part.ts', PART_SOLVED);
    const { kit, lines } = testKit(k.root);
    const script = scripted([
      '00-demo',
      'Compare my files',
      false,
      'Compare my files',
      true,
      'Check my files',
      'Back',
      'Quit',
    ]);
    await runMenu(script.prompts, menuActions(kit), kit.out);
    const text = lines.join('\n');
    expect(text).toContain('Not shown.');
    expect(text).toContain('--- labs/00-demo/lua/x.lua (yours)');
    expect(text).not.toContain('labs/00-demo/part.ts (yours)'); // it matches the solution
    expect(text).toContain('00-demo: 2/2 checks passed. Done.');
    expect(script.asked.at(-2)!.message).toBe('Lab 00-demo: done'); // still on the lab, not moved on
    expect(script.asked.at(-1)!.choices[0]).toMatch(/^00-demo\s+✓ done/);
  });

  it('asks before reset all, disables what a lab lacks, and treats Ctrl-C as quit', async () => {
    const k = tempKit();
    k.write('labs/00-demo/part.ts', PART_SOLVED);
    const { kit, lines } = testKit(k.root);
    const script = scripted(['Reset all labs', false, '01-next']);
    const prompts: Prompts = {
      ...script.prompts,
      async select(q) {
        if (script.left.length === 0) {
          script.asked.push({
            message: q.message,
            choices: q.choices.flatMap((c) =>
              'value' in c ? [`${c.name}${c.disabled ? ` [${c.disabled}]` : ''}`] : [],
            ),
          });
          throw Object.assign(new Error('User force closed the prompt with SIGINT'), {
            name: 'ExitPromptError',
          });
        }
        return script.prompts.select(q);
      },
    };
    expect(await runMenu(prompts, menuActions(kit), kit.out)).toBe(0);
    expect(readFileSync(join(k.root, 'labs/00-demo/part.ts'), 'utf8')).toBe(PART_SOLVED);
    expect(lines).toContain('Nothing reset.');
    expect(script.asked.at(-1)!.choices).toContain('Run the demo on my files [no demo yet]');
    expect(script.asked.at(-1)!.choices).toContain('Check my files [no checks yet]');
    expect(lines.at(-1)).toMatch(/^Bye/);
  });
});

describe('writes nothing outside its root', () => {
  it('keeps progress under the given root', () => {
    const k = tempKit({ git: false });
    const { kit } = testKit(k.root);
    hintOne(kit, labOf(kit, '00'));
    expect(existsSync(join(k.root, '.progress', 'progress.json'))).toBe(true);
    writeFileSync(join(k.root, 'labs/00-demo/part.ts'), PART_STARTER);
  });
});
