/**
 * The "NN compiles" check, run before a lab's spec: its TypeScript files type-checked with the starters' settings
 * (tsconfig.labs.json), only those files and what they import, in-process with the TypeScript compiler (a few
 * seconds); a promise nobody waits for flagged (TypeScript cannot: see floatingPromises); its Lua scripts
 * compiled by Redis. The first problem is the check's message, as `file:line:col: message`.
 *
 * tsx runs a file with type errors as if they were not there: a `Promise` posted to a thread (a missing await)
 * only shows up later as a DataCloneError, far from the line. The compiler points at the line.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type ts from 'typescript';
import { compileLua, repoPath, type SourceProblem } from '../kit/source-errors.ts';
import { listFiles } from '../kit/todos.ts';

export type Problem = SourceProblem;

export interface CompileResult {
  /** Every problem, in file and line order. */
  problems: Problem[];
  /** A file does not parse: the spec cannot load it, so it is not run. */
  unparsable: boolean;
  seconds: number;
}

type TypeScript = typeof ts;

/** Kept between labs of one `npm run check`: the next program reuses the parsed lib and chassis files. */
let previous: ts.Program | undefined;

/**
 * Results of labs type-checked in the program of another lab of the same run (see typeCheckLab's `alongside`),
 * by lab folder, with a hash of the files they were computed from: a file edited since is checked again.
 */
const prepared = new Map<string, { hash: string; problems: Problem[] }>();

/**
 * Compiles the lab's Lua scripts (one round trip each to Redis): before the spec starts, since a spec cut short
 * mid-check would leave its queue's keys behind.
 */
export async function compileLabLua(root: string, track: string, lab: string): Promise<CompileResult> {
  const started = Date.now();
  const problems = await compileLua(labFiles(root, track, lab).scripts, root);
  return { problems, unparsable: problems.length > 0, seconds: (Date.now() - started) / 1000 };
}

/** Parses the lab's TypeScript files (milliseconds once the compiler is loaded): does every one parse? */
export async function parseLab(root: string, track: string, lab: string): Promise<CompileResult> {
  const ts = await loadTypeScript();
  const started = Date.now();
  const problems: Problem[] = [];
  for (const file of ts ? labFiles(root, track, lab).sources : []) {
    const source = ts!.createSourceFile(file, readFileSync(file, 'utf8'), ts!.ScriptTarget.Latest, true);
    const parsed = (source as unknown as { parseDiagnostics?: ts.Diagnostic[] }).parseDiagnostics ?? [];
    problems.push(...parsed.map((d) => problem(ts!, d, root)));
  }
  return {
    problems: sorted(problems),
    unparsable: problems.length > 0,
    seconds: (Date.now() - started) / 1000,
  };
}

/**
 * Type-checks the lab's TypeScript files with the starters' settings and flags floating promises. Synchronous
 * (a few seconds of CPU): the grader starts the spec's process first, so the two overlap.
 *
 * `alongside`: the other labs of this run, checked in the same program and kept for their own turn. One program
 * for all labs costs little more than one for a lab (most of a program's time goes to the lib and chassis types
 * every lab imports, and a program's type checker is its own), so a run of seven labs pays it once, not seven
 * times. Every file is a module, so no lab's declarations reach another's.
 */
export async function typeCheckLab(
  root: string,
  track: string,
  lab: string,
  alongside: string[] = [],
): Promise<CompileResult> {
  const ts = await loadTypeScript();
  // From here on: the await above may have let another lab's check run first (and prepare this one).
  const started = Date.now();
  const result = (problems: Problem[]) => ({
    problems: sorted(problems),
    unparsable: false,
    seconds: (Date.now() - started) / 1000,
  });
  if (!ts) return result([]);
  const folder = join(root, track, lab);
  const sources = labFiles(root, track, lab).sources;
  const ready = prepared.get(folder);
  if (ready && ready.hash === hashOf(sources)) return result(ready.problems);
  const others = alongside
    .filter((other) => other !== lab)
    .map((other) => ({ folder: join(root, track, other), sources: labFiles(root, track, other).sources }))
    .filter((other) => prepared.get(other.folder)?.hash !== hashOf(other.sources));
  const byFile = typeCheck(ts, root, [...sources, ...others.flatMap((o) => o.sources)]);
  for (const each of [{ folder, sources }, ...others]) {
    prepared.set(each.folder, {
      hash: hashOf(each.sources),
      problems: each.sources.flatMap((f) => byFile.get(f) ?? []),
    });
  }
  return result(prepared.get(folder)!.problems);
}

/** What a lab's files say, in one hash: a lab prepared beside another is checked again if one changed since. */
function hashOf(files: string[]): string {
  const hash = createHash('sha1');
  for (const file of files) hash.update(file).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex');
}

/** Every step, one after the other. */
export async function compileLab(root: string, track: string, lab: string): Promise<CompileResult> {
  for (const step of [compileLabLua, parseLab]) {
    const result = await step(root, track, lab);
    if (result.unparsable) return result;
  }
  return typeCheckLab(root, track, lab);
}

/** The learner's files of a lab: its TypeScript parts (not the demo, index.ts) and its Lua scripts. */
function labFiles(root: string, track: string, lab: string): { sources: string[]; scripts: string[] } {
  const folder = join(root, track, lab);
  const files = existsSync(folder) ? listFiles(folder) : [];
  return {
    sources: files.filter((f) => f.endsWith('.ts') && f !== join(folder, 'index.ts')),
    scripts: files.filter((f) => f.endsWith('.lua')),
  };
}

/** The compiler, or undefined where it is not installed (`npm install --omit=dev`): the check then skips types. */
async function loadTypeScript(): Promise<TypeScript | undefined> {
  try {
    return (await import('typescript')).default;
  } catch {
    return undefined;
  }
}

/** The problems of each of `sources`, by file: compiler diagnostics and floating promises. */
function typeCheck(ts: TypeScript, root: string, sources: string[]): Map<string, Problem[]> {
  const config = ts.readConfigFile(join(root, 'tsconfig.labs.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config ?? {}, ts.sys, root);
  const program = ts.createProgram({
    rootNames: sources,
    options: { ...options, noEmit: true },
    ...(previous ? { oldProgram: previous } : {}),
  });
  previous = program;
  const checker = program.getTypeChecker();
  const problems = new Map<string, Problem[]>();
  for (const file of sources) {
    const source = program.getSourceFile(file);
    if (!source) continue;
    const diagnostics = [
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    ];
    problems.set(file, [
      ...diagnostics.map((d) => problem(ts, d, root)),
      ...floatingPromises(ts, checker, source, root),
    ]);
  }
  return problems;
}

function problem(ts: TypeScript, d: ts.Diagnostic, root: string): Problem {
  const text = ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n')[0]!.trim();
  if (!d.file || d.start === undefined) return { where: 'tsconfig.labs.json:1', column: 1, message: text };
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
  return {
    where: `${repoPath(d.file.fileName, root)}:${line + 1}`,
    column: character + 1,
    message: `${text} (TS${d.code})`,
  };
}

/**
 * A call whose result is a promise, used as a statement: nobody awaits it, returns it or catches it. In
 * `async push() { this.redis.lpush(...) }` the method resolves before Redis has the message, and a failure is an
 * unhandled rejection. TypeScript has no such error (typescript-eslint's no-floating-promises does, with the same
 * way out): `await` it, return it, end its chain with `.catch(handler)` or `.then(ok, fail)`, or say `void` to
 * mean "on purpose, don't wait".
 */
export function floatingPromises(
  ts: TypeScript,
  checker: ts.TypeChecker,
  source: ts.SourceFile,
  root: string,
): Problem[] {
  const found: Problem[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isExpressionStatement(node)) {
      const expression = ts.skipPartiallyEmittedExpressions(node.expression);
      const call = ts.isParenthesizedExpression(expression) ? expression.expression : expression;
      if ((ts.isCallExpression(call) || ts.isNewExpression(call)) && !handled(ts, call)) {
        if (isThenable(checker, checker.getTypeAtLocation(call))) {
          const { line, character } = source.getLineAndCharacterOfPosition(call.getStart(source));
          const code = call.getText(source).replace(/\s+/g, ' ');
          found.push({
            where: `${repoPath(source.fileName, root)}:${line + 1}`,
            column: character + 1,
            message:
              `\`${code.length > 60 ? `${code.slice(0, 57)}...` : code}\` returns a promise nobody awaits: ` +
              'the code after it runs before it is done, and its failure is lost. Add await (or void, to not wait on purpose)',
          });
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The chain ends in a handler: `.catch(f)` or `.then(ok, fail)` somewhere along `a().b().c()`. */
function handled(ts: TypeScript, call: ts.CallExpression | ts.NewExpression): boolean {
  let node: ts.Expression = call;
  while (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
    const name = node.expression.name.text;
    if ((name === 'catch' && node.arguments.length >= 1) || (name === 'then' && node.arguments.length >= 2))
      return true;
    node = node.expression.expression;
  }
  return false;
}

function isThenable(checker: ts.TypeChecker, type: ts.Type): boolean {
  if (type.isUnion()) return type.types.some((t) => isThenable(checker, t));
  const then = checker.getPropertyOfType(checker.getApparentType(type), 'then');
  if (!then?.valueDeclaration && !then?.declarations?.length) return false;
  const declaration = then.valueDeclaration ?? then.declarations![0]!;
  return checker.getTypeOfSymbolAtLocation(then, declaration).getCallSignatures().length > 0;
}

function sorted(problems: Problem[]): Problem[] {
  const key = (p: Problem) => {
    const [file, line] = [p.where.replace(/:\d+$/, ''), Number(/:(\d+)$/.exec(p.where)?.[1] ?? 0)];
    return { file, line };
  };
  return [...problems].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return x.file === y.file ? x.line - y.line || a.column - b.column : x.file < y.file ? -1 : 1;
  });
}

/** The check's one-line message: the first problem, and how many more. */
export function compileMessage(result: CompileResult): string | undefined {
  const [first, ...rest] = result.problems;
  if (!first) return undefined;
  const more = rest.length > 0 ? ` (and ${rest.length} more)` : '';
  return `${first.where}:${first.column}: ${first.message}${more}`;
}
