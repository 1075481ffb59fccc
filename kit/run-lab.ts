import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeError, NotImplemented, todoIn } from '../mini-queue/errors.ts';
import { integerFlag } from '../mini-queue/flags.ts';
import type { Track } from '../mini-queue/parts.ts';
import { readHints } from './hints.ts';
import { findTodos, REPO_ROOT } from './todos.ts';
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
  const track: Track = values.solution ? 'solutions' : 'labs';
  console.log(
    style.bold(`Lab ${lab.title}`) + style.dim(` (${track === 'labs' ? 'your files' : 'the solution'})`),
  );
  try {
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
    console.error(style.red(describeError(error)));
  } finally {
    // Threads, child processes and sockets of a failed run must not keep the demo hanging.
    setTimeout(() => process.exit(), 500).unref();
  }
}

function parse(extra: NonNullable<LabDefinition['flags']>) {
  const options: Record<string, { type: 'boolean' | 'string' }> = {
    solution: { type: 'boolean' },
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
