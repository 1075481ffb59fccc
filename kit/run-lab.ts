import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeError, NotImplemented, todoIn, UserError } from '../mini-queue/errors.ts';
import { integerFlag } from '../mini-queue/flags.ts';
import { type Track, trackFolder } from '../mini-queue/parts.ts';
import { findDashboard } from './dashboard.ts';
import { readHints } from './hints.ts';
import { compileLua, parseErrorIn, problemLine } from './source-errors.ts';
import { findTodos, listFiles, REPO_ROOT } from './todos.ts';
import { style } from './ui/style.ts';

export interface LabRun {
  /** Whose files this lab's part comes from: `labs` (yours) or `solutions` (with --solution). */
  track: Track;
  workers: number | undefined;
  tasks: number | undefined;
  /** Flags this lab adds (e.g. --kill), parsed as booleans or strings. */
  flags: Record<string, string | boolean | undefined>;
}

export interface LabDefinition {
  /** `00-broker` */
  name: string;
  title: string;
  /** Extra flags for this lab's demo. */
  flags?: Record<string, { type: 'boolean' | 'string'; description: string }>;
  /** The demo. Resolves true when the run completed correctly. */
  demo(run: LabRun): Promise<boolean>;
}

/**
 * The shared `npx tsx labs/NN-name` entry: flags, the track, and turning a TODO that is not done into guidance
 * (which TODO, where, the first hint, how to check) instead of a stack trace.
 */
export async function runLab(lab: LabDefinition): Promise<void> {
  const id = lab.name.slice(0, 2);
  const extra = lab.flags ?? {};
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(extra);
  } catch (error) {
    console.error(`${(error as Error).message}. Try: npx tsx labs/${lab.name} --help`);
    process.exitCode = 1;
    return;
  }
  const { values } = parsed;
  if (values.help) {
    console.log(`Lab ${lab.title}\n\nUsage: npx tsx labs/${lab.name} [--solution] [--workers N] [--tasks N]`);
    for (const [flag, spec] of Object.entries(extra)) console.log(`  --${flag}  ${spec.description}`);
    return;
  }
  let track: Track;
  try {
    track = trackOf(values);
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 1;
    return;
  }
  console.log(
    style.bold(`Lab ${lab.title}`) +
      style.dim(` (${track === 'labs' ? 'your files' : track === 'solutions' ? 'the solution' : track})`),
  );
  try {
    // Before the demo makes its queues: each is announced with the dashboard's link when one runs.
    await findDashboard();
    // A Lua script that does not compile would only fail deep in a worker, retried in silence: say so first.
    const scripts = listFiles(join(REPO_ROOT, track, lab.name)).filter((f) => f.endsWith('.lua'));
    const [broken] = await compileLua(scripts, REPO_ROOT);
    if (broken) {
      process.exitCode = 1;
      console.error(style.red(problemLine(broken)));
      console.error(`  fix it, then \`npx tsx labs/${lab.name}\` again (or \`npm run check -- ${id}\`).`);
      return;
    }
    const ok = await lab.demo({
      track,
      workers: count(values.workers, '--workers'),
      tasks: count(values.tasks, '--tasks'),
      flags: values as Record<string, string | boolean | undefined>,
    });
    process.exitCode = ok ? 0 : 1;
  } catch (error) {
    process.exitCode = 1;
    const todo = error instanceof NotImplemented ? error : todoFromText(error);
    if (todo) {
      console.error(guidance(lab.name, id, todo.todo, todo.hint));
      return;
    }
    // A file of the lab that does not parse (here, or in a thread or child that loads it): one line, no stack.
    const text = error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error);
    const unparsable = error instanceof UserError ? undefined : parseErrorIn(text, REPO_ROOT);
    if (unparsable) {
      console.error(style.red(problemLine(unparsable)));
      console.error(`  fix it, then \`npx tsx labs/${lab.name}\` again (or \`npm run check -- ${id}\`).`);
      return;
    }
    console.error(style.red(describeError(error)));
  } finally {
    // Threads, child processes and sockets of a failed run must not keep the demo hanging.
    setTimeout(() => process.exit(), 500).unref();
  }
}

/**
 * The track the demo takes this lab's part from: yours, or the solution with --solution. The kit's own tests also
 * pass `--track .variant-x`, a folder they wrote at the repo root (a solution with a mistake patched in).
 */
function trackOf(values: { solution?: unknown; track?: unknown }): Track {
  const given = typeof values.track === 'string' ? values.track : undefined;
  if (given === undefined) return values.solution ? 'solutions' : 'labs';
  if (given.startsWith('.') && existsSync(join(REPO_ROOT, trackFolder(given)))) return given;
  throw new UserError(`--track takes a folder at the kit's root starting with '.', got '${given}'`);
}

function parse(extra: NonNullable<LabDefinition['flags']>) {
  const options: Record<string, { type: 'boolean' | 'string' }> = {
    solution: { type: 'boolean' },
    track: { type: 'string' },
    workers: { type: 'string' },
    tasks: { type: 'string' },
    help: { type: 'boolean' },
  };
  for (const [flag, spec] of Object.entries(extra)) options[flag] = { type: spec.type };
  return parseArgs({ args: process.argv.slice(2), options, strict: true, allowPositionals: false });
}

function count(value: unknown, flag: string): number | undefined {
  return value === undefined ? undefined : integerFlag(String(value), flag);
}

function todoFromText(error: unknown): { todo: string; hint: string } | undefined {
  return error instanceof Error ? todoIn(error.message) : undefined;
}

/** What a person needs when a TODO is not done: which one, where, a first hint, what to run next. */
export function guidance(labName: string, id: string, todo: string, hint: string): string {
  const folder = join(REPO_ROOT, 'labs', labName);
  const where = findTodos(folder).find((t) => t.id === todo)?.where ?? `labs/${labName}`;
  const first = readHints(folder).get(todo)?.[0];
  return [
    style.yellow(`TODO(${todo}) is not done yet: ${hint}`),
    `  where: ${where}`,
    ...(first ? [`  hint:  ${first}`] : []),
    `  next:  edit it, then \`npx tsx labs/${labName}\` again, or \`npm run check -- ${id}\`.`,
    `         To watch the finished version first: \`npx tsx labs/${labName} --solution\`.`,
  ].join('\n');
}
