/**
 * The interactive flow of `npm start`, written against two injected prompt functions (select, confirm) and a
 * set of actions, so tests can drive it with scripted answers and no terminal.
 *
 *   lab list ──pick──▶ lab menu ──action──▶ (does it) ──▶ lab menu again, cursor on the same action
 *      ▲                  │
 *      └──── back ────────┘            quit (anywhere, or Ctrl-C at a prompt) ──▶ exit 0
 *
 * It never moves on by itself: after a passing check the attendee stays on the lab until they pick another.
 */

import { style } from '../kit/ui/style.ts';
import { UserError } from '../mini-queue/errors.ts';
import type { Track } from '../mini-queue/parts.ts';
import type { Lab } from './labs.ts';
import type { LabStatus } from './status.ts';
import { type Out, visible } from './text.ts';

export interface Choice<T> {
  name: string;
  value: T;
  description?: string;
  /** What the answered prompt shows instead of `name`. */
  short?: string;
  /** Shown but not selectable, with this reason (e.g. a lab still being written has no demo). */
  disabled?: string;
}
export type MenuItem<T> = Choice<T> | { separator: string };

export interface Prompts {
  select<T>(question: { message: string; choices: MenuItem<T>[]; default?: T }): Promise<T>;
  confirm(question: { message: string; default?: boolean }): Promise<boolean>;
}

export interface MenuActions {
  statuses(): LabStatus[];
  /** The lab the cursor starts on: the one worked on last. */
  lastLab(): string | undefined;
  run(lab: Lab, track: Track): Promise<unknown>;
  check(lab: Lab): Promise<unknown>;
  hint(lab: Lab): void;
  /** "TODO(00.1): 1/3 seen" */
  hintLabel(lab: Lab): string;
  reset(lab: Lab): void;
  resetAll(): void;
  diff(lab: Lab): void;
  readme(lab: Lab): void;
}

type LabAction = 'run' | 'run-solution' | 'check' | 'hint' | 'reset' | 'diff' | 'readme' | 'back' | 'quit';
type Top = { lab: string } | 'reset-all' | 'quit';

const QUIT = Symbol('quit');

/** Runs the menu until the attendee quits. Resolves the exit code (0). */
export async function runMenu(prompts: Prompts, actions: MenuActions, out: Out): Promise<number> {
  try {
    let cursor: string | undefined = actions.lastLab();
    for (;;) {
      const all = actions.statuses();
      const picked = await pickLab(prompts, all, cursor);
      if (picked === 'quit') break;
      if (picked === 'reset-all') {
        const sure = await prompts.confirm({
          message: `Put every lab (${all.length}) back to the starter? What you have is backed up first.`,
          default: false,
        });
        if (sure) guard(out, () => actions.resetAll());
        else out('Nothing reset.');
        continue;
      }
      cursor = picked.lab;
      const lab = all.find((s) => s.lab.name === picked.lab)?.lab;
      if (lab && (await labMenu(prompts, actions, lab, out)) === QUIT) break;
    }
  } catch (error) {
    // Ctrl-C or Ctrl-D at a prompt: the attendee wants out, which is a normal quit, not a crash.
    if (!(error instanceof Error && error.name === 'ExitPromptError')) throw error;
  }
  out('Bye. Your progress is saved; `npm start` picks up where you left off.');
  return 0;
}

async function pickLab(prompts: Prompts, all: LabStatus[], cursor: string | undefined): Promise<Top> {
  const choices: MenuItem<Top>[] = all.map((s) => {
    const name = labLine(s);
    // The detail under the list only when the line had to cut it short.
    const cut = visible(name).endsWith('…');
    return { name, value: { lab: s.lab.name }, short: s.lab.name, ...(cut ? { description: s.detail } : {}) };
  });
  choices.push({ separator: '' });
  choices.push({ name: 'Reset all labs to the starter…', value: 'reset-all' });
  choices.push({ name: 'Quit', value: 'quit' });
  const chosen = choices.find(
    (c): c is Choice<Top> => 'value' in c && typeof c.value === 'object' && c.value.lab === cursor,
  );
  return prompts.select<Top>({
    message: 'concurrency-lab: pick a lab',
    choices,
    ...(chosen ? { default: chosen.value } : {}),
  });
}

const MARK = { done: '✓', 'in progress': '…', 'not started': ' ' } as const;

/** `00-broker        ✓ done          passed 7/7, …`, cut to fit an 80-column terminal. */
export function labLine(s: LabStatus): string {
  const status = `${MARK[s.status]} ${s.status}`.padEnd(14);
  const coloured =
    s.status === 'done'
      ? style.green(status)
      : s.status === 'in progress'
        ? style.yellow(status)
        : style.dim(status);
  const room = 76 - 17 - 14 - 1;
  const detail = s.detail.length > room ? `${s.detail.slice(0, room - 1)}…` : s.detail;
  return `${s.lab.name.padEnd(17)}${coloured} ${style.dim(detail)}`.trimEnd();
}

async function labMenu(
  prompts: Prompts,
  actions: MenuActions,
  lab: Lab,
  out: Out,
): Promise<typeof QUIT | undefined> {
  let last: LabAction = lab.has.demo ? 'run' : 'readme';
  for (;;) {
    const status = actions.statuses().find((s) => s.lab.name === lab.name);
    const now = status?.lab ?? lab;
    const choices: MenuItem<LabAction>[] = [
      {
        name: 'Run the demo on my files',
        value: 'run',
        ...(now.has.demo ? {} : { disabled: 'no demo yet' }),
      },
      {
        name: 'Run the demo on the solution',
        value: 'run-solution',
        ...(now.has.demo ? {} : { disabled: 'no demo yet' }),
      },
      { name: 'Check my files', value: 'check', ...(now.has.spec ? {} : { disabled: 'no checks yet' }) },
      {
        name: `Next hint (${actions.hintLabel(now)})`,
        value: 'hint',
        ...(now.has.hints ? {} : { disabled: 'no hints yet' }),
      },
      {
        name: 'Reset my files to the starter…',
        value: 'reset',
        description: 'a backup of your files is kept',
      },
      {
        name: 'Compare my files with the solution (spoiler)…',
        value: 'diff',
        ...(now.has.solution ? {} : { disabled: 'no solution yet' }),
      },
      { name: 'Where is the README?', value: 'readme' },
      { separator: '' },
      { name: 'Back to the lab list', value: 'back' },
      { name: 'Quit', value: 'quit' },
    ];
    // Short, so the answered line ("✔ Lab 00-broker: in progress  Check my files") fits 80 columns; the
    // details are in the lab list and in the hint entry.
    const action: LabAction = await prompts.select<LabAction>({
      message: `Lab ${lab.name}: ${status?.status ?? 'not started'}`,
      choices,
      default: last,
    });
    last = action;
    switch (action) {
      case 'back':
        return undefined;
      case 'quit':
        return QUIT;
      case 'run':
      case 'run-solution':
        await guardAsync(out, () => actions.run(now, action === 'run' ? 'labs' : 'solutions'));
        break;
      case 'check':
        await guardAsync(out, () => actions.check(now));
        break;
      case 'hint':
        guard(out, () => actions.hint(now));
        break;
      case 'reset':
        if (
          await prompts.confirm({
            message: `Put ${lab.path} back to the starter? Your files are backed up first.`,
            default: false,
          })
        ) {
          guard(out, () => actions.reset(now));
        } else out('Nothing reset.');
        break;
      case 'diff':
        if (
          await prompts.confirm({
            message: 'Show the solution next to your files? It gives the answers away.',
            default: false,
          })
        ) {
          guard(out, () => actions.diff(now));
        } else out('Not shown.');
        break;
      case 'readme':
        guard(out, () => actions.readme(now));
        break;
    }
    out('');
  }
}

/** An action that fails with a UserError (no git, no Redis) prints one line and the menu goes on. */
function guard(out: Out, action: () => void): void {
  try {
    action();
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    out(style.red(error.message));
  }
}

async function guardAsync(out: Out, action: () => Promise<unknown>): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    out(style.red(error.message));
  }
}
