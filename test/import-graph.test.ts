/**
 * Imports go one way (DESIGN.md, "Layers"): mini-queue ← kit ← labs, solutions, checker, bench, menu (siblings
 * that never import each other) ← test. Nothing names solutions/ but the track loader, by a computed path. And
 * no file is part of an import cycle. Read statically, so a move that breaks a layer fails here in a second,
 * before any spec runs. The second half feeds the same rules small bad graphs: this test cannot pass vacuously.
 */
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../kit/todos.ts';
import {
  EXCEPTIONS,
  findCycles,
  LAYERS,
  layerViolations,
  scanFile,
  scanRepo,
  topFolder,
} from './helpers/import-graph.ts';

const { files, refs } = scanRepo(REPO_ROOT);

describe('the import graph', () => {
  it('reads every layer', () => {
    for (const folder of Object.keys(LAYERS)) {
      expect(
        files.some((f) => topFolder(f) === folder),
        `no .ts file found under ${folder}/`,
      ).toBe(true);
    }
    expect(refs.length).toBeGreaterThan(files.length);
  });

  it('imports go down the layers only, never sideways, never into solutions/', () => {
    expect(layerViolations(refs, files).join('\n')).toBe('');
  });

  it('has no import cycle', () => {
    expect(findCycles(refs).join('\n')).toBe('');
  });

  it('every exception is still an edge of the graph (else it goes)', () => {
    for (const e of EXCEPTIONS) {
      expect(
        refs.some((r) => r.from === e.from && r.to === e.to),
        `${e.from} → ${e.to} (${e.why})`,
      ).toBe(true);
    }
  });
});

/** A small repo in memory: file → text. */
function graphOf(repo: Record<string, string>) {
  const names = Object.keys(repo);
  return { files: names, refs: names.flatMap((name) => scanFile(name, repo[name]!)) };
}

describe('the rules can fail', () => {
  it('sees every way of naming a file, and only those', () => {
    const text = [
      "import { a } from '../mini-queue/a.ts';",
      "import type { B } from '../mini-queue/b.ts';",
      "import { type C } from '../mini-queue/c.ts';",
      "export { d } from './d.ts';",
      "const e = await import('../mini-queue/e.ts');",
      "type F = typeof import('../mini-queue/f.ts');",
      "const g = new URL('./g.mjs', import.meta.url);",
      "import { readFileSync } from 'node:fs';",
      "import ts from 'typescript';",
      'const track = process.argv[2];',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the source of a computed import, as text
      'await import(`../${track}/pool.ts`);',
      'const code = "import(\'../solutions/x.ts\')";',
      "const folder = new URL('./lua/', import.meta.url);",
    ].join('\n');
    const seen = scanFile('kit/k.ts', text).map((r) => `${r.line} ${r.kind} ${r.to}`);
    expect(seen).toEqual([
      '1 import mini-queue/a.ts',
      '2 import type mini-queue/b.ts',
      '3 import type mini-queue/c.ts',
      '4 export from kit/d.ts',
      '5 dynamic import mini-queue/e.ts',
      '6 import type mini-queue/f.ts',
      '7 new URL kit/g.mjs',
    ]);
  });

  it('an upward, a sideways, a solutions and a cross-lab import each fail, naming file:line and the rule', () => {
    const { files, refs } = graphOf({
      'mini-queue/queue.ts': "import { bar } from '../kit/ui/progress.ts';",
      'kit/ui/progress.ts': "import { now } from '../../mini-queue/clock.ts';",
      'mini-queue/clock.ts': 'export const now = () => 0;',
      'checker/grade.ts': "\nimport { pool } from '../labs/01-event-loop/pool.ts';",
      'test/x.test.ts': "import type { App } from '../solutions/06-showdown/app.ts';",
      'labs/03-threads/pool.ts': "const c = new URL('../01-event-loop/pool.ts', import.meta.url);",
      'labs/index.ts': "import '../menu/index.ts';",
      'menu/index.ts': "import { now } from '../mini-queue/clock.ts';",
      'docs/example.ts': "import { now } from '../mini-queue/clock.ts';",
    });
    const problems = layerViolations(refs, files);
    expect(problems).toHaveLength(5);
    expect(problems.join('\n')).toContain("mini-queue/queue.ts:1: import 'kit/ui/progress.ts': goes up");
    expect(problems.join('\n')).toContain(
      "checker/grade.ts:2: import 'labs/01-event-loop/pool.ts': checker/",
    );
    expect(problems.join('\n')).toContain('siblings');
    expect(problems.join('\n')).toContain("test/x.test.ts:1: import type 'solutions/06-showdown/app.ts'");
    expect(problems.join('\n')).toContain('labs/03-threads/pool.ts:1: new URL');
    expect(problems.join('\n')).toContain("'docs/' has no layer");
    expect(problems.join('\n'), 'the listed exception passes').not.toContain('labs/index.ts');
  });

  it('a cycle fails, printed, in one folder or across folders, type imports included', () => {
    const { refs } = graphOf({
      'bench/throughput.ts':
        "import { bull } from './peers/bullmq.ts';\nimport { bee } from './peers/bee.ts';",
      'bench/peers/bullmq.ts': "import type { Run } from '../throughput.ts';",
      'bench/peers/bee.ts': "import type { Run } from '../throughput.ts';",
      'kit/a.ts': "export * from './b.ts';",
      'kit/b.ts': "export * from './c.ts';",
      'kit/c.ts': "const a = await import('./a.ts');",
      'kit/self.ts': "import { x } from './self.ts';",
      // Starting a module as a process is not importing it: this pair is no cycle.
      'bench/queue.ts': "import { SYSTEMS } from './child.ts';",
      'bench/child.ts': "const parent = new URL('./queue.ts', import.meta.url);",
    });
    expect(findCycles(refs)).toEqual([
      'bench/peers/bee.ts:1 → bench/throughput.ts:2 → bench/peers/bee.ts (also in this tangle: bench/peers/bullmq.ts)',
      'kit/a.ts:1 → kit/b.ts:1 → kit/c.ts:1 → kit/a.ts',
      'kit/self.ts:1 → kit/self.ts',
    ]);
  });
});
