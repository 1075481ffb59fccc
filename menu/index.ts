/**
 * `npm start` / `npx tsx labs [COMMAND]`: the lab menu, and every action of it as a plain-text command.
 * main.ts reads the arguments; menu.ts is the interactive flow; real.ts runs the grader and the demos.
 *
 * LAB_CLI_ROOT points the CLI at another copy of the kit; the kit's own tests use it so they never touch the
 * attendee's files or progress.
 */
import { resolve } from 'node:path';
import { REPO_ROOT } from '../kit/todos.ts';
import { runMain } from '../mini-queue/errors.ts';
import { createKit } from './kit.ts';
import { main } from './main.ts';

// The menu only when a person can answer it: both ends a terminal (not CI, not a pipe).
const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
const kit = createKit({
  root: process.env.LAB_CLI_ROOT ? resolve(process.env.LAB_CLI_ROOT) : REPO_ROOT,
  // Loaded on first use: the prompt library adds start-up time that `list` does not need.
  check: async (lab, track, onEvent) => (await import('./real.ts')).realCheck(lab, track, onEvent),
  demo: async (lab, track) => (await import('./real.ts')).realDemo(lab, track),
});

const prompts = interactive ? (await import('./prompts.ts')).inquirerPrompts : undefined;
await runMain(() => main(process.argv.slice(2), { kit, ...(prompts ? { prompts } : {}) }));
// A private Redis started for a check, or a stdin listener, must not keep the process alive after the answer.
setTimeout(() => process.exit(), 200).unref();
