/**
 * What issue #13 asks of every starter, checked for each lab folder found (a new lab is covered without
 * editing this file): (a) its part files are small, (b) each stub's message is one plain string literal,
 * (c) no stub message holds code the solution fills in, (d) hints.md ends every TODO with the code. That lab and
 * solution hold the same files is test/integrity.test.ts's. The second half proves each rule can fail.
 */
import { existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readHints } from '../kit/hints.ts';
import { listLabs } from '../kit/labs.ts';
import { findTodos, listFiles, REPO_ROOT } from '../kit/todos.ts';
import {
  codeTokens,
  filledLines,
  findStubs,
  hintProblems,
  leakProblems,
  mentions,
  partFiles,
  plainnessProblems,
  readSource,
  type SourceText,
  STARTER_BUDGET,
  sizeProblems,
} from './helpers/starter-rules.ts';

const labs = listLabs();
/** Every TypeScript and Lua file under labs/, the demos included: none may build a stub's message. */
const labSources = listFiles(join(REPO_ROOT, 'labs')).map((f) => relative(REPO_ROOT, f).split(sep).join('/'));

/** A lab's starter part files, as text. */
const parts = (name: string): SourceText[] =>
  partFiles(join(REPO_ROOT, 'labs', name)).map((f) => readSource(REPO_ROOT, `labs/${name}/${f}`));

describe('starters', () => {
  it('finds the labs', () => {
    expect(labs.length).toBeGreaterThan(0);
  });

  describe.each(labs)('$name', (lab) => {
    it(`(a) its starter part files total ${STARTER_BUDGET} lines or fewer`, () => {
      expect(sizeProblems(`labs/${lab.name}`, parts(lab.name)).join('\n')).toBe('');
    });

    it('(b) every stub message is one plain string literal', () => {
      const stubs = labSources
        .filter((f) => f.startsWith(`labs/${lab.name}/`))
        .flatMap((f) => findStubs(readSource(REPO_ROOT, f)));
      expect(plainnessProblems(stubs).join('\n')).toBe('');
    });

    it("(c) no stub message holds the solution's code", () => {
      const problems = parts(lab.name).flatMap((starter) => {
        const twin = starter.file.replace(/^labs\//, 'solutions/');
        // A part file without its solution twin is integrity.test.ts's to report.
        return existsSync(join(REPO_ROOT, twin)) ? leakProblems(starter, readSource(REPO_ROOT, twin)) : [];
      });
      expect(problems.join('\n')).toBe('');
    });

    it('(d) hints.md: every TODO has two stages or more, the last one the code', () => {
      const ids = findTodos(lab.folder).map((t) => t.id);
      expect(hintProblems(`labs/${lab.name}`, ids, readHints(lab.folder)).join('\n')).toBe('');
    });
  });

  it('(b) outside the lab folders too: labs/index.ts builds no message', () => {
    const stubs = labSources
      .filter((f) => !/^labs\/\d\d-/.test(f))
      .flatMap((f) => findStubs(readSource(REPO_ROOT, f)));
    expect(plainnessProblems(stubs).join('\n')).toBe('');
  });
});

describe('the rules can fail', () => {
  it('(a) a starter over the budget, named with each file', () => {
    const line = 'x\n';
    const files = [
      { file: 'labs/09-x/pool.ts', text: line.repeat(150) },
      { file: 'labs/09-x/lua/go-1.lua', text: `${'\n'.repeat(10)}y` },
    ];
    expect(sizeProblems('labs/09-x', files)).toEqual([
      'labs/09-x: starter part files hold 161 lines, more than 160 (labs/09-x/pool.ts 150, labs/09-x/lua/go-1.lua 11)',
    ]);
    expect(sizeProblems('labs/09-x', files.slice(0, 1))).toEqual([]);
  });

  it('(b) a template, a local, a concatenation or a built Lua message is not plain', () => {
    const ts = [
      "throw new NotImplemented('09.1', 'no thread runs the tasks yet');",
      'throw new NotImplemented(',
      "  '09.2',",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a starter's source, as text
      '  `spawn(): ${entry}`,',
      ');',
      "this.todo('09.3', hint);",
      "throw new Error('TODO(09.4): ' + what);",
      'throw new NotImplemented(id, `x`);',
      'function todo(id: string, hint: string): never { throw new NotImplemented(id, hint); }',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a starter's source, as text
      'const s = `TODO(09.5) ${x}`;',
    ].join('\n');
    const problems = plainnessProblems(findStubs({ file: 'labs/09-x/pool.ts', text: ts }));
    expect(problems.map((p) => p.split(': ')[0])).toEqual([
      'labs/09-x/pool.ts:2',
      'labs/09-x/pool.ts:6',
      'labs/09-x/pool.ts:7',
      'labs/09-x/pool.ts:8',
      'labs/09-x/pool.ts:10',
    ]);
    const lua = [
      "-- TODO(09.6): in a comment, a marker is no stub: 'TODO(09.6) x' .. y",
      "return redis.error_reply('TODO(09.6): nothing is acknowledged yet')",
      "return redis.error_reply('TODO(09.7): ' .. KEYS[1])",
      "return redis.error_reply(string.format('TODO(09.8): %s', x))",
    ].join('\n');
    const luaStubs = findStubs({ file: 'labs/09-x/lua/ack-4.lua', text: lua });
    expect(luaStubs.map((s) => s.id)).toEqual(['09.6', '09.7', '09.8']);
    expect(plainnessProblems(luaStubs).map((p) => p.split(': ')[0])).toEqual([
      'labs/09-x/lua/ack-4.lua:3',
      'labs/09-x/lua/ack-4.lua:4',
    ]);
  });

  it('(c) the filled lines come from a line diff, and their code tokens, not their words, count', () => {
    const starter = 'a\nb\n  // TODO(09.1): post it\n  throw x;\nc\n';
    const solution = 'a\nb\n  // (09.1) why\n  lane.worker.postMessage(toThread(call));\nc\n';
    expect(filledLines(starter, solution)).toEqual([
      { line: 3, text: '  // (09.1) why' },
      { line: 4, text: '  lane.worker.postMessage(toThread(call));' },
    ]);
    const tokens = [
      ...codeTokens(
        [
          { line: 1, text: '// a comment with gen.next() is no code' },
          { line: 2, text: 'const result = fiber.gen.next(value); // why' },
          { line: 3, text: 'return new Worker(entry, { workerData });' },
          {
            line: 4,
            text: 'const [raw] = await this.blocking.blmove(k.waiting, k.active, "RIGHT", "LEFT", 1);',
          },
          { line: 5, text: 'if (held) await Promise.all(pending); yield* wait(p);' },
        ],
        false,
      ).keys(),
    ];
    for (const t of [
      'gen.next',
      'next(',
      'fiber.gen',
      'new Worker',
      'Worker(',
      'workerData',
      'BLMOVE',
      'blmove(',
    ]) {
      expect(tokens, t).toContain(t);
    }
    for (const t of ['RIGHT', 'Promise.all', 'yield*', 'wait(']) expect(tokens, t).toContain(t);
    for (const t of ['result', 'pending', 'held', 'if(', 'comment', 'const'])
      expect(tokens, t).not.toContain(t);
    const lua = [
      ...codeTokens([{ line: 1, text: "redis.call('ZREM', KEYS[2], ARGV[1]) -- why: LREM" }], true).keys(),
    ];
    expect(lua.sort()).toEqual(['ARGV', 'KEYS', 'ZREM', 'call(', 'redis.call']);
    expect(mentions('post it with worker.postMessage(x)', 'postMessage')).toBe(true);
    expect(mentions('nothing posts a message yet', 'postMessage')).toBe(false);
    expect(mentions('it takes LPUSH', 'LPUSH')).toBe(true);
    expect(mentions('it takes RPOPLPUSH', 'LPUSH')).toBe(false);
  });

  it('(c) a stub message that tells the code fails; one that tells the behaviour passes', () => {
    const solution = {
      file: 'solutions/09-x/pool.ts',
      text: 'class P {\n  dispatch() {\n    // (09.1) why\n    lane.worker.postMessage(toThread(job.call));\n  }\n}\n',
    };
    const starter = (message: string) => ({
      file: 'labs/09-x/pool.ts',
      text: `class P {\n  dispatch() {\n    // TODO(09.1): hand the call over\n    throw new NotImplemented('09.1', '${message}');\n  }\n}\n`,
    });
    expect(
      leakProblems(starter('dispatch(): the thread never hears of the call, so it waits forever'), solution),
    ).toEqual([]);
    expect(leakProblems(starter('dispatch(): call postMessage on lane.worker'), solution)).toEqual([
      "labs/09-x/pool.ts:4: stub 09.1's message tells the solution's code: 'lane.worker' (solutions/09-x/pool.ts:4), 'postMessage' (solutions/09-x/pool.ts:4)",
    ]);
    const luaSolution = {
      file: 'solutions/09-x/ack-4.lua',
      text: "-- (09.2) why\nlocal held = redis.call('LREM', KEYS[1], 1, ARGV[1])\n",
    };
    const luaStarter = {
      file: 'labs/09-x/ack-4.lua',
      text: "-- TODO(09.2): x\nreturn redis.error_reply('TODO(09.2): LREM the message from active')\n",
    };
    expect(leakProblems(luaStarter, luaSolution)).toHaveLength(1);
  });

  it('(d) one stage, or a last stage without code, fails', () => {
    const hints = new Map([
      ['09.1', ['A nudge.', 'More: the `Atomics` object.', '`Atomics.add(counter, 0, 1);`']],
      ['09.2', ['Only a nudge, and `lane.job`.']],
      ['09.3', ['A nudge.', 'Then the name `drained` but no statement.']],
      ['09.4', ['A nudge.', 'The code: ```ts await this.drained(); ```']],
    ]);
    expect(hintProblems('labs/09-x', ['09.1', '09.2', '09.3', '09.4', '09.5'], hints)).toEqual([
      'labs/09-x/hints.md ## 09.2: 1 stage(s); a nudge first, the code last (2 or more)',
      'labs/09-x/hints.md ## 09.3: the last stage holds no code: "Then the name `drained` but no statement."',
      'labs/09-x/hints.md ## 09.5: 0 stage(s); a nudge first, the code last (2 or more)',
    ]);
  });
});
