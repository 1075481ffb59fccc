/**
 * `npx tsx labs ...` without a terminal: every action as a subcommand, plain text, one-line errors with exit 1.
 * A few are spawned as a person would run them (LAB_CLI_ROOT points at a temp kit, so nothing real is touched;
 * only `list` runs on the real kit, read-only); the rest call main() in-process, which is the same code, faster.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKit } from '../menu/kit.ts';
import { main } from '../menu/main.ts';
import { visible } from '../menu/text.ts';
import { UserError } from '../mini-queue/errors.ts';
import { makeTempKit, PART_SOLVED, PART_STARTER } from './fixtures/lab-cli-kit.ts';
import { run } from './helpers/cli.ts';

const k = makeTempKit();
afterAll(() => k.remove());
const spawned = (args: string[]) => run(['labs', ...args], { LAB_CLI_ROOT: k.root }, 30_000);

/** main() on the temp kit, no terminal: what it printed and its exit code. */
async function labs(args: string[]): Promise<{ code: number; stdout: string }> {
  const lines: string[] = [];
  const kit = createKit({
    root: k.root,
    out: (line = '') => lines.push(visible(line)),
    err: (line = '') => lines.push(visible(line)),
    check: () => Promise.reject(new Error('no grader in this test')),
    demo: async () => 0,
  });
  const code = await main(args, { kit });
  return { code, stdout: lines.join('\n') };
}

describe('npx tsx labs (no terminal)', () => {
  it('spawned: lists and helps with no command, runs a demo, hints, fails in one line', async () => {
    const [bare, real, bad, demo] = await Promise.all([
      spawned([]),
      run(['labs', 'list']),
      spawned(['frobnicate']),
      spawned(['run', '00', '--solution']),
    ]);
    const hint = await spawned(['hint', '00']); // after the listing above, which must see no hint yet
    expect(bare.code).toBe(0);
    expect(bare.stdout).toMatch(/00-demo\s+│ · not started/);
    expect(bare.stdout).toContain('Usage: npm start');
    expect(Math.max(...bare.stdout.split('\n').map((l) => l.length))).toBeLessThanOrEqual(80);
    expect(real.code).toBe(0);
    expect(real.stdout).toContain('00-broker'); // the real kit, read-only
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("unknown command 'frobnicate': try `npx tsx labs --help`\n");
    expect(demo.code).toBe(0);
    expect(demo.stdout).toContain('demo ran solution');
    expect(hint.stdout).toContain('1/3. First nudge');
    expect(hint.stdout).not.toContain('2/3. Second');
    const again = await labs(['hint', '0']); // a new process reading the same progress file: the next stage
    expect(again.stdout).toContain('2/3. Second, more.');
  });

  it('says what to do in one line for bad input', async () => {
    const cases: Array<[string[], string]> = [
      [['hint', '42'], "no lab '42': pick one of 00, 01 (see `npx tsx labs list`)"],
      [['run'], "'run' needs a lab: npx tsx labs run NN (see `npx tsx labs list`)"],
      [['--nope'], "Unknown option '--nope': see `npx tsx labs --help`"],
      [
        ['reset', '00'],
        'reset 00 overwrites your files in labs/00-demo: add --yes to do it without a terminal',
      ],
      [['diff', '00'], 'diff 00 shows the solution: add --yes to do it without a terminal'],
      [
        ['reset', '--all'],
        'reset --all overwrites your files in every lab: add --yes to do it without a terminal',
      ],
      [['menu'], 'the menu needs a terminal: use the commands in `npx tsx labs --help`'],
      [['list', 'extra'], "too many arguments for 'list': npx tsx labs list"],
    ];
    for (const [args, message] of cases) {
      const failed = labs(args);
      await expect(failed, args.join(' ')).rejects.toThrow(UserError);
      await expect(labs(args)).rejects.toThrow(message);
    }
  });

  it('has --help for every command', async () => {
    for (const command of ['list', 'run', 'check', 'hint', 'reset', 'diff', 'readme', 'watch', 'menu']) {
      const { code, stdout } = await labs([command, '--help']);
      expect(code).toBe(0);
      expect(stdout).toMatch(new RegExp(`^Usage: npx tsx labs ${command}`));
      expect(Math.max(...stdout.split('\n').map((l) => l.length)), command).toBeLessThanOrEqual(80);
    }
  });

  it('a lab id given as a command: its demo and check commands when it exists, the labs that do when not', async () => {
    await expect(labs(['00'])).rejects.toThrow(
      "'00' is a lab, not a command: its demo is `npx tsx labs/00-demo`, its check `npx tsx labs check 00`",
    );
    await expect(labs(['99'])).rejects.toThrow(/^no lab '99': pick one of 00/i);
  });

  it('diffs, shows the README, checks, lists and resets by flags', async () => {
    k.write('labs/00-demo/part.ts', PART_SOLVED);
    const diff = await labs(['diff', '00', '--yes']);
    expect(diff.stdout).toContain('+++ solutions/00-demo/lua/x.lua (solution)');
    expect((await labs(['readme', '00-demo'])).stdout).toBe(join(k.root, 'labs/00-demo/README.md'));
    const check = await labs(['check', '01']);
    expect(check).toEqual({ code: 1, stdout: expect.stringContaining('lab 01 has no checks yet') });
    expect((await labs(['list'])).stdout).toMatch(/00-demo\s+│ … in progress │ .*1 file edited/);

    expect((await labs(['reset', '00', '--yes'])).code).toBe(0);
    expect(readFileSync(join(k.root, 'labs/00-demo/part.ts'), 'utf8')).toBe(PART_STARTER);
    const [backup] = readdirSync(join(k.root, '.lab-backups'));
    expect(readFileSync(join(k.root, '.lab-backups', backup!, 'part.ts'), 'utf8')).toBe(PART_SOLVED);
    const all = await labs(['reset', '--all', '-y']);
    expect(all.stdout).toContain('00-demo: your files already match the starter');
  });
});
