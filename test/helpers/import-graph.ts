/**
 * The kit's import graph, read statically with the TypeScript compiler (nothing is run), and the rules it must
 * keep: layers that import one way only, and no cycles. test/import-graph.test.ts runs these on the repo and on
 * small bad graphs, so a rule that can no longer fail shows up.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import ts from 'typescript';

/** How a file names another: each kind is an edge of the graph. */
export type RefKind = 'import' | 'import type' | 'export from' | 'dynamic import' | 'new URL';

export interface Ref {
  /** Repo-relative, `/`-separated, e.g. `bench/queue.ts`. */
  from: string;
  to: string;
  line: number;
  kind: RefKind;
}

/**
 * The layers, lowest first: a folder may name only folders of a lower layer (and itself). Folders on one layer
 * are siblings and never name each other.
 */
export const LAYERS: Record<string, number> = {
  'mini-queue': 0,
  kit: 1,
  labs: 2,
  solutions: 2,
  checker: 2,
  bench: 2,
  menu: 2,
  test: 3,
};

/** Edges that break a layer on purpose, each with its reason. */
export const EXCEPTIONS: { from: string; to: string; why: string }[] = [
  {
    from: 'labs/index.ts',
    to: 'menu/index.ts',
    why: 'the thin entry `npm start` runs (`tsx labs`): the menu is the kit’s, the entry stays where attendees type',
  },
];

/** The .ts and .mjs files of the repo that git knows or would add (tracked, or new and not ignored). */
export function sourceFiles(root: string): string[] {
  let names: string[];
  try {
    names = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
      cwd: root,
      encoding: 'utf8',
    }).split('\0');
  } catch {
    names = walk(root, '');
  }
  return [...new Set(names)].filter((name) => /\.(ts|mjs)$/.test(name) && !name.endsWith('.d.ts')).sort();
}

/** Without git (an unpacked tarball): every file outside node_modules and dot-folders. */
function walk(root: string, under: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, under), { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const name = under ? `${under}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...walk(root, name));
    else out.push(name);
  }
  return out;
}

/** Reads the files and returns every reference between them. */
export function scanRepo(root: string): { files: string[]; refs: Ref[] } {
  const files = sourceFiles(root);
  const refs = files.flatMap((file) => scanFile(file, readFileSync(join(root, file), 'utf8')));
  return { files, refs };
}

/**
 * Every reference from one file to another file of the repo: `import`, `import type`, `export … from`,
 * `import('…')` and `typeof import('…')` with a literal path, and `new URL('….ts', import.meta.url)` (a module
 * started as a thread or a process). Packages and `node:` modules are not files of the repo; a computed path
 * (the track loader's) names no file and is not an edge.
 */
export function scanFile(file: string, text: string): Ref[] {
  const kind = file.endsWith('.mjs') ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, kind);
  const refs: Ref[] = [];
  const add = (node: ts.Node, specifier: string, refKind: RefKind) => {
    if (!specifier.startsWith('./') && !specifier.startsWith('../')) return;
    const to = posix.normalize(posix.join(posix.dirname(file), specifier));
    if (to.startsWith('../')) return;
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    refs.push({ from: file, to, line, kind: refKind });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node, node.moduleSpecifier.text, isTypeOnlyImport(node) ? 'import type' : 'import');
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node, node.moduleSpecifier.text, node.isTypeOnly ? 'import type' : 'export from');
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      add(node, node.moduleReference.expression.text, node.isTypeOnly ? 'import type' : 'import');
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [first] = node.arguments;
      if (first && ts.isStringLiteralLike(first)) add(node, first.text, 'dynamic import');
    } else if (ts.isImportTypeNode(node)) {
      const argument = node.argument;
      if (ts.isLiteralTypeNode(argument) && ts.isStringLiteral(argument.literal)) {
        add(node, argument.literal.text, 'import type');
      }
    } else if (ts.isNewExpression(node) && isUrlFromHere(node)) {
      const first = node.arguments?.[0];
      if (first && ts.isStringLiteralLike(first) && /\.(ts|mjs)$/.test(first.text))
        add(node, first.text, 'new URL');
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return refs;
}

function isTypeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (!clause) return false; // a side-effect import runs the module
  if (clause.isTypeOnly) return true;
  const bindings = clause.namedBindings;
  return (
    !clause.name &&
    bindings !== undefined &&
    ts.isNamedImports(bindings) &&
    bindings.elements.length > 0 &&
    bindings.elements.every((element) => element.isTypeOnly)
  );
}

/** `new URL(x, import.meta.url)`: x is a file next to this one. */
function isUrlFromHere(node: ts.NewExpression): boolean {
  const base = node.arguments?.[1];
  return (
    ts.isIdentifier(node.expression) &&
    node.expression.text === 'URL' &&
    base !== undefined &&
    ts.isPropertyAccessExpression(base) &&
    ts.isMetaProperty(base.expression) &&
    base.name.text === 'url'
  );
}

/** The top-level folder of a repo-relative path; undefined for a file at the root (vitest.config.ts). */
export function topFolder(file: string): string | undefined {
  const slash = file.indexOf('/');
  return slash < 0 ? undefined : file.slice(0, slash);
}

/** `labs/03-threads/pool.ts` → `labs/03-threads`: a lab (or its solution) stands alone. */
function labUnit(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : `${parts[0]}/`;
}

const where = (ref: Ref) => `${ref.from}:${ref.line}`;

/** Every reference that breaks a layer rule, as `file:line: kind 'target': the rule`. */
export function layerViolations(refs: Ref[], files: string[] = []): string[] {
  const problems: string[] = [];
  for (const file of files) {
    const top = topFolder(file);
    if (top !== undefined && LAYERS[top] === undefined) {
      problems.push(`${file}: '${top}/' has no layer: add it to LAYERS in test/helpers/import-graph.ts`);
    }
  }
  for (const ref of refs) {
    const from = topFolder(ref.from);
    const to = topFolder(ref.to);
    if (from === undefined || to === undefined) continue;
    if (EXCEPTIONS.some((e) => e.from === ref.from && e.to === ref.to)) continue;
    const what = `${where(ref)}: ${ref.kind} '${ref.to}'`;
    if (to === 'solutions' && (from !== 'solutions' || labUnit(ref.from) !== labUnit(ref.to))) {
      problems.push(
        `${what}: nothing imports from solutions/ (only the track loader reaches it, by a computed path)`,
      );
      continue;
    }
    const fromLayer = LAYERS[from];
    const toLayer = LAYERS[to];
    if (fromLayer === undefined || toLayer === undefined) continue; // reported above, once per file
    if (from === to) {
      if ((from === 'labs' || from === 'solutions') && labUnit(ref.from) !== labUnit(ref.to)) {
        problems.push(`${what}: a lab stands alone: it names mini-queue/, kit/ and its own folder only`);
      }
      continue;
    }
    if (toLayer > fromLayer) {
      problems.push(`${what}: goes up from ${from}/ (layer ${fromLayer}) to ${to}/ (layer ${toLayer})`);
    } else if (toLayer === fromLayer) {
      problems.push(
        `${what}: ${from}/ and ${to}/ are siblings (layer ${fromLayer}) and never import each other`,
      );
    }
  }
  return problems;
}

/**
 * Every import cycle, each printed as `a.ts:3 → b.ts:7 → a.ts`. `new URL` references are not followed: the
 * module they name starts in a new thread or process with a module graph of its own, so nothing waits on a
 * half-evaluated module. Type-only imports are: a cycle of types is still two files that cannot be read apart.
 */
export function findCycles(refs: Ref[]): string[] {
  const edges = new Map<string, Ref[]>();
  for (const ref of refs) {
    if (ref.kind === 'new URL') continue;
    const list = edges.get(ref.from) ?? [];
    list.push(ref);
    edges.set(ref.from, list);
  }
  const cycles: string[] = [];
  for (const component of stronglyConnected(edges)) {
    const inside = new Set(component);
    const start = [...component].sort()[0]!;
    const self = edges.get(start)?.find((r) => r.to === start);
    if (component.length === 1 && !self) continue;
    const path = self ? [self] : shortestLoop(start, edges, inside);
    const loop = [...path.map((r) => where(r)), start].join(' → ');
    const others = component.filter((file) => !path.some((r) => r.from === file)).sort();
    cycles.push(others.length > 0 ? `${loop} (also in this tangle: ${others.join(', ')})` : loop);
  }
  return cycles.sort();
}

/** Tarjan's strongly connected components (iterative: no recursion limit on a long chain). */
function stronglyConnected(edges: Map<string, Ref[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  const nodes = new Set([...edges.keys(), ...[...edges.values()].flat().map((r) => r.to)]);
  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: { node: string; child: number }[] = [{ node: root, child: 0 }];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const out = edges.get(frame.node) ?? [];
      if (frame.child < out.length) {
        const to = out[frame.child++]!.to;
        if (!index.has(to)) {
          index.set(to, next);
          low.set(to, next++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, child: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let node: string;
        do {
          node = stack.pop()!;
          onStack.delete(node);
          component.push(node);
        } while (node !== frame.node);
        components.push(component);
      }
    }
  }
  return components;
}

/** The shortest way from `start` back to itself inside one component (breadth first). */
function shortestLoop(start: string, edges: Map<string, Ref[]>, inside: Set<string>): Ref[] {
  const via = new Map<string, Ref>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const ref of edges.get(node) ?? []) {
      if (!inside.has(ref.to) || via.has(ref.to)) continue;
      via.set(ref.to, ref);
      if (ref.to === start) {
        const path: Ref[] = [];
        for (let at = start; ; ) {
          const step = via.get(at)!;
          path.unshift(step);
          at = step.from;
          if (at === start) return path;
        }
      }
      queue.push(ref.to);
    }
  }
  return [];
}
