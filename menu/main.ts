/**
 * `npx tsx labs [COMMAND] [NN] [flags]`: the menu on a terminal, and every menu action as a subcommand that
 * prints plain text, for CI, pipes and people who prefer typing.
 */
import { parseArgs } from 'node:util';
import { UserError } from '../mini-queue/errors.ts';
import {
  checkOne,
  diffOne,
  hintLabel,
  hintOne,
  listLabsText,
  readmeOne,
  resetAll,
  resetOne,
  runDemo,
  statuses,
} from './actions.ts';
import { type Kit, labOf, labsOf } from './kit.ts';
import { type MenuActions, type Prompts, runMenu } from './menu.ts';
import { watchLabs } from './watch.ts';

const HELP = `Usage: npm start           the menu: labs, status, run, check, hint, reset, diff
       npx tsx labs COMMAND [NN] [flags]

Commands (NN is a lab: 00, 3, 03-threads):
  list                  the labs and your status in each
  run NN [--solution]   run the lab's demo on your files (or the solution)
  check NN              grade your files: the first TODO to fix and its hint
  hint NN               one more staged hint for the TODO you are on
  reset NN [--yes]      put the lab back to the starter (your files are
                        backed up in .lab-backups/ first)
  reset --all [--yes]   the same for every lab
  diff NN [--yes]       your files against the solution (it spoils!)
  readme NN             the path of the lab's README
  watch [NN]            re-check a lab each time you save one of its files
                        (also: npm run watch -- NN)
  menu                  the menu (needs a terminal)

Flags: --help (also after a command), --yes/-y (do not ask), --solution.
Progress is kept in .progress/progress.json. NO_COLOR=1 turns colours off.`;

const COMMAND_HELP: Record<string, string> = {
  list: 'Usage: npx tsx labs list\n\nEach lab with its status: done (last check passed), in progress (files\nedited, a hint seen or a check run), not started.',
  run: "Usage: npx tsx labs run NN [--solution]\n\nRuns labs/NN-name/index.ts on your files, or on the reference with\n--solution; it prints a progress bar, a table and the per-lane timeline.\nExit code: the demo's (0 when the run completed correctly).",
  check:
    'Usage: npx tsx labs check NN\n\nGrades your files for lab NN (as `npm run check -- NN`), records the\nresult, and prints the first TODO to fix with its hint. Exit 0 iff it passes.',
  hint: 'Usage: npx tsx labs hint NN\n\nOne more hint each time, for the TODO you are on: the first failing TODO\nof your last check, else the first TODO(NN.k) marker left in your files.',
  reset:
    "Usage: npx tsx labs reset NN [--yes]\n       npx tsx labs reset --all [--yes]\n\nPuts the lab's files back to the starter in git (origin/HEAD, else HEAD).\nWhat you had is copied to .lab-backups/<lab>-<time>/ first. Asks first\non a terminal; elsewhere needs --yes.",
  diff: 'Usage: npx tsx labs diff NN [--yes]\n\nYour files against the solution, as a unified diff. It gives the answers\naway, so it asks first on a terminal; elsewhere needs --yes.',
  readme: "Usage: npx tsx labs readme NN\n\nPrints the path of the lab's README.md (open it in your editor).",
  watch:
    'Usage: npx tsx labs watch [NN]     (or: npm run watch [-- NN])\n\nRe-checks a lab within about a second of a save of one of its files, and\nprints the first failing TODO and its hint. Without NN, watches every lab\nand checks the one you saved. Enter re-checks by hand (when file events\ndo not arrive: WSL, network drives); q + Enter or Ctrl-C stops.',
  menu: 'Usage: npx tsx labs menu     (or: npm start)\n\nThe interactive menu. Needs a terminal.',
};

export interface MainDeps {
  kit: Kit;
  /** The prompts, when a person is at a terminal; absent in pipes and CI. */
  prompts?: Prompts;
}

/** Parses argv and runs one command. Resolves the exit code; bad input is a one-line UserError. */
export async function main(argv: string[], { kit, prompts }: MainDeps): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    // node's own message goes on about '--' positionals; the first sentence is what matters here.
    const said = (error as Error).message.split(/\.\s|\n/)[0];
    throw new UserError(`${said}: see \`npx tsx labs --help\``);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (command === 'help' || (values.help && !command)) {
    kit.out(rest[0] && COMMAND_HELP[rest[0]] ? COMMAND_HELP[rest[0]] : HELP);
    return 0;
  }
  if (command && /^\d{1,2}(-|$)/.test(command)) {
    // A lab that does not exist says so first (and lists the ones that do), rather than suggest a command for it.
    const lab = labOf(kit, command);
    throw new UserError(
      `'${command}' is a lab, not a command: its demo is \`npx tsx labs/${lab.name}\`, its check \`npx tsx labs check ${lab.id}\`, the menu \`npm start\``,
    );
  }
  if (command && !(command in COMMAND_HELP)) {
    throw new UserError(`unknown command '${command}': try \`npx tsx labs --help\``);
  }
  if (command && values.help) {
    kit.out(COMMAND_HELP[command]);
    return 0;
  }
  const only = (max: number, usage: string) => {
    if (rest.length > max) throw new UserError(`too many arguments for '${command}': ${usage}`);
  };
  const needLab = () => {
    if (!rest[0])
      throw new UserError(`'${command}' needs a lab: npx tsx labs ${command} NN (see \`npx tsx labs list\`)`);
    only(1, `npx tsx labs ${command} NN`);
    return labOf(kit, rest[0]);
  };
  /** Asks on a terminal; elsewhere --yes is the answer, or a one-line refusal saying to add it. */
  const agreed = async (question: string, refusal: string): Promise<boolean> => {
    if (values.yes) return true;
    if (!prompts) throw new UserError(`${refusal}: add --yes to do it without a terminal`);
    try {
      return await prompts.confirm({ message: question, default: false });
    } catch (error) {
      if (error instanceof Error && error.name === 'ExitPromptError') return false;
      throw error;
    }
  };

  switch (command) {
    case undefined:
    case 'menu': {
      if (prompts) return runMenu(prompts, menuActions(kit), kit.out);
      if (command === 'menu')
        throw new UserError('the menu needs a terminal: use the commands in `npx tsx labs --help`');
      // No terminal and no command (CI, a pipe): show where things stand and how to act, and succeed.
      kit.out(listLabsText(kit));
      kit.out('');
      kit.out(HELP);
      return 0;
    }
    case 'list':
      only(0, 'npx tsx labs list');
      kit.out(listLabsText(kit));
      return 0;
    case 'run':
      return runDemo(kit, needLab(), values.solution ? 'solutions' : 'labs');
    case 'check': {
      const verdict = await checkOne(kit, needLab());
      return verdict?.verdict === 'pass' ? 0 : 1;
    }
    case 'hint':
      hintOne(kit, needLab());
      return 0;
    case 'readme':
      readmeOne(kit, needLab());
      return 0;
    case 'diff': {
      const lab = needLab();
      if (
        !(await agreed(
          'Show the solution next to your files? It gives the answers away.',
          `diff ${lab.id} shows the solution`,
        ))
      ) {
        kit.out('Not shown.');
        return 0;
      }
      diffOne(kit, lab);
      return 0;
    }
    case 'reset': {
      if (values.all) {
        only(0, 'npx tsx labs reset --all [--yes]');
        const count = labsOf(kit).length;
        if (
          !(await agreed(
            `Put every lab (${count}) back to the starter? Backups are kept.`,
            'reset --all overwrites your files in every lab',
          ))
        ) {
          kit.out('Nothing reset.');
          return 0;
        }
        resetAll(kit);
        return 0;
      }
      const lab = needLab();
      if (
        !(await agreed(
          `Put ${lab.path} back to the starter? A backup is kept.`,
          `reset ${lab.id} overwrites your files in ${lab.path}`,
        ))
      ) {
        kit.out('Nothing reset.');
        return 0;
      }
      resetOne(kit, lab);
      return 0;
    }
    case 'watch': {
      only(1, 'npx tsx labs watch [NN]');
      const lab = rest[0] ? labOf(kit, rest[0]) : undefined;
      const watcher = watchLabs(kit, lab ? { lab } : {});
      const stop = () => watcher.stop();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await watcher.stopped;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      kit.out('Stopped watching.');
      return 0;
    }
    default:
      throw new UserError(`unknown command '${command}': try \`npx tsx labs --help\``);
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      yes: { type: 'boolean', short: 'y' },
      all: { type: 'boolean' },
      solution: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
}

/** The menu's actions, on the real kit. */
export function menuActions(kit: Kit): MenuActions {
  return {
    statuses: () => statuses(kit),
    lastLab: () => kit.store.load().lastLab,
    run: (lab, track) => runDemo(kit, lab, track),
    check: (lab) => checkOne(kit, lab),
    hint: (lab) => hintOne(kit, lab),
    hintLabel: (lab) => hintLabel(kit, lab),
    reset: (lab) => resetOne(kit, lab),
    resetAll: () => resetAll(kit),
    diff: (lab) => diffOne(kit, lab),
    readme: (lab) => readmeOne(kit, lab),
  };
}
