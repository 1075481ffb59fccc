/**
 * `npm start` / `npx tsx labs [COMMAND]`: the lab menu, and every action of it as a plain-text command.
 * The work is in labs/cli/ (main.ts reads the arguments; menu.ts is the interactive flow).
 *
 * LAB_CLI_ROOT points the CLI at another copy of the kit; the kit's own tests use it so they never touch the
 * attendee's files or progress.
 */
import { resolve } from 'node:path';
import { runMain } from '../mini-queue/errors.ts';
import { createKit } from './cli/kit.ts';
import { main } from './cli/main.ts';
import { inquirerPrompts } from './cli/prompts.ts';
import { realCheck, realDemo } from './cli/real.ts';
import { REPO_ROOT } from './harness/todos.ts';

const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
const kit = createKit({
  root: process.env.LAB_CLI_ROOT ? resolve(process.env.LAB_CLI_ROOT) : REPO_ROOT,
  check: realCheck,
  demo: realDemo,
  interactive,
});

await runMain(() =>
  main(process.argv.slice(2), { kit, ...(interactive ? { prompts: inquirerPrompts } : {}) }),
);
// A private Redis started for a check, or a stdin listener, must not keep the process alive after the answer.
setTimeout(() => process.exit(), 200).unref();
