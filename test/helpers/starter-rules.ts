/**
 * What a starter must be (issue #13): small, with stubs that nudge and never tell, and hints that end in the
 * code. Pure functions over file texts, so test/starters.test.ts runs them on the labs and on small bad
 * examples alike.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/** All of a lab's starter part files together, blank lines and Lua included. */
export const STARTER_BUDGET = 160;

/** Files of a lab folder that are not part of what the attendee builds. */
export const LAB_ONLY = new Set(['index.ts', 'README.md', 'hints.md']);

const TODO_ID = /^\d\d\.\d+$/;
const MARKER = /TODO\((\d\d\.\d+)\)/;

export interface SourceText {
  /** Path as messages show it, e.g. `labs/03-threads/pool.ts`. */
  file: string;
  text: string;
}

/** The starter part files of a lab folder, relative to it, sorted: every file but its demo, README and hints. */
export function partFiles(folder: string, under = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(folder, under), { withFileTypes: true })) {
    const name = under ? `${under}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...partFiles(folder, name));
    else if (!LAB_ONLY.has(name)) out.push(name);
  }
  return out.sort();
}

export function lineCount(text: string): number {
  if (text === '') return 0;
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

/** Rule (a): empty when the part files fit the budget; else one line naming the total and each file. */
export function sizeProblems(lab: string, files: SourceText[]): string[] {
  const total = files.reduce((sum, f) => sum + lineCount(f.text), 0);
  if (total <= STARTER_BUDGET) return [];
  const each = files.map((f) => `${f.file} ${lineCount(f.text)}`).join(', ');
  return [`${lab}: starter part files hold ${total} lines, more than ${STARTER_BUDGET} (${each})`];
}

export interface Stub {
  /** `labs/03-threads/pool.ts:151` */
  where: string;
  id: string;
  /** The message as written: the literal's text, or the source of whatever stands there instead. */
  message: string;
  /** Why the message is not one plain string literal; undefined when it is. */
  notPlain?: string;
  /** The function the stub stands in (`dispatch`): a message may name where it is. */
  scope?: string;
}

/**
 * Every stub of a starter file. In TypeScript: a call whose first argument is a TODO id literal and which has a
 * message after it (`new NotImplemented('03.1', '…')`, `this.todo('00.1', '…')`), any other string holding a
 * `TODO(NN.k)` marker, and a `new NotImplemented(…)` that is neither (only a helper passing its own parameters
 * on is allowed that). In Lua: a string holding a `TODO(NN.k)` marker (`redis.error_reply('TODO(00.3): …')`).
 */
export function findStubs(source: SourceText): Stub[] {
  return source.file.endsWith('.lua') ? luaStubs(source) : tsStubs(source);
}

function tsStubs({ file, text }: SourceText): Stub[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const stubs: Stub[] = [];
  const at = (node: ts.Node) => `${file}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`;
  const messageArguments = new Set<ts.Node>();
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
      const [id, message] = node.arguments ?? [];
      const isNotImplemented = ts.isNewExpression(node) && node.expression.getText(sf) === 'NotImplemented';
      if (id && message && ts.isStringLiteralLike(id) && TODO_ID.test(id.text)) {
        messageArguments.add(message);
        const plain = ts.isStringLiteral(message);
        const scope = scopeName(node);
        stubs.push({
          where: at(node),
          id: id.text,
          message: readable(message, sf),
          ...(plain ? {} : { notPlain: `${ts.SyntaxKind[message.kind]} \`${clip(message.getText(sf))}\`` }),
          ...(scope ? { scope } : {}),
        });
      } else if (isNotImplemented && !forwardsParameters(node)) {
        stubs.push({
          where: at(node),
          id: id && ts.isStringLiteralLike(id) ? id.text : '?',
          message: message?.getText(sf) ?? '',
          notPlain: `new NotImplemented(${node.arguments?.map((a) => clip(a.getText(sf))).join(', ')})`,
        });
      }
    }
    if (ts.isStringLiteralLike(node) || ts.isTemplateExpression(node)) {
      const marker = MARKER.exec(node.getText(sf));
      if (marker && !messageArguments.has(node)) {
        const plain = ts.isStringLiteral(node) && !isConcatenated(node);
        stubs.push({
          where: at(node),
          id: marker[1]!,
          message: readable(node, sf),
          ...(plain ? {} : { notPlain: `\`${clip(node.getText(sf))}\` is built, not written` }),
        });
      }
      return; // a template's parts are not strings of their own
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return stubs;
}

/** What a person reads of a message: a literal's text, a template's text parts (a value stands for `…`). */
function readable(node: ts.Node, sf: ts.SourceFile): string {
  if (ts.isStringLiteralLike(node)) return node.text;
  if (ts.isTemplateExpression(node)) {
    return [node.head.text, ...node.templateSpans.map((span) => span.literal.text)].join('…');
  }
  return node.getText(sf);
}

/** The name of the function or method a node is in. */
function scopeName(node: ts.Node): string | undefined {
  for (let at = node.parent; at; at = at.parent) {
    if ((ts.isFunctionDeclaration(at) || ts.isMethodDeclaration(at)) && at.name) return at.name.getText();
  }
  return undefined;
}

/** `new NotImplemented(id, hint)` inside a helper whose parameters those are (the stubs call the helper). */
function forwardsParameters(node: ts.NewExpression): boolean {
  let scope: ts.Node | undefined = node.parent;
  while (scope && !ts.isFunctionLike(scope)) scope = scope.parent;
  if (!scope || !ts.isFunctionLike(scope)) return false;
  const parameters = new Set(scope.parameters.map((p) => p.name.getText()));
  const args = node.arguments ?? [];
  return args.length === 2 && args.every((a) => ts.isIdentifier(a) && parameters.has(a.text));
}

function isConcatenated(node: ts.Node): boolean {
  const parent = node.parent;
  return ts.isBinaryExpression(parent) && parent.operatorToken.kind === ts.SyntaxKind.PlusToken;
}

const clip = (s: string) => (s.length > 70 ? `${s.slice(0, 67)}...` : s);

function luaStubs({ file, text }: SourceText): Stub[] {
  const stubs: Stub[] = [];
  text.split('\n').forEach((line, index) => {
    const code = stripLuaComment(line);
    for (const literal of code.matchAll(/(['"])((?:\\.|(?!\1).)*)\1/g)) {
      const marker = MARKER.exec(literal[2]!);
      if (!marker) continue;
      const before = code.slice(0, literal.index).trimEnd();
      const after = code.slice(literal.index! + literal[0].length).trimStart();
      // One literal and nothing else as the argument: `error_reply('TODO(00.3): …')`.
      const plain = before.endsWith('(') && !/format\s*\($/.test(before) && after.startsWith(')');
      stubs.push({
        where: `${file}:${index + 1}`,
        id: marker[1]!,
        message: literal[2]!,
        ...(plain ? {} : { notPlain: `the message is built: \`${clip(code.trim())}\`` }),
      });
    }
  });
  return stubs;
}

/** A line of Lua without its `--` comment (a `--` inside a string stays). */
function stripLuaComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '-' && line[i + 1] === '-') return line.slice(0, i);
  }
  return line;
}

/** Rule (b): every stub's message is one plain string literal. */
export function plainnessProblems(stubs: Stub[]): string[] {
  return stubs
    .filter((s) => s.notPlain !== undefined)
    .map((s) => `${s.where}: stub ${s.id}'s message must be one plain string literal, not ${s.notPlain}`);
}

/**
 * The lines the solution adds or changes against the starter (1-based line numbers in the solution), from a
 * longest common subsequence of the two files' lines, compared trimmed (a re-indented line is not a fill).
 */
export function filledLines(starter: string, solution: string): { line: number; text: string }[] {
  const a = starter.split('\n').map((l) => l.trim());
  const b = solution.split('\n');
  const bt = b.map((l) => l.trim());
  const width = bt.length + 1;
  // lcs[i][j]: the longest common subsequence of a[i..] and bt[j..]
  const lcs = new Uint32Array((a.length + 1) * width);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = bt.length - 1; j >= 0; j--) {
      lcs[i * width + j] =
        a[i] === bt[j]
          ? lcs[(i + 1) * width + j + 1]! + 1
          : Math.max(lcs[(i + 1) * width + j]!, lcs[i * width + j + 1]!);
    }
  }
  const kept = new Set<number>();
  for (let i = 0, j = 0; i < a.length && j < bt.length; ) {
    if (a[i] === bt[j]) {
      kept.add(j);
      i++;
      j++;
    } else if (lcs[(i + 1) * width + j]! >= lcs[i * width + j + 1]!) i++;
    else j++;
  }
  return b.flatMap((text, j) => (kept.has(j) || text.trim() === '' ? [] : [{ line: j + 1, text }]));
}

type Token = { kind: 'id' | 'str' | 'punct'; text: string };

/** Words that may stand before `(` without being a call. */
const KEYWORDS = new Set(
  'if for while switch catch function return typeof await yield super import void in of new and or not elseif'.split(
    ' ',
  ),
);
/** Capitals that are prose, not code. */
const PROSE_CAPITALS = new Set(
  'TODO FIFO LIFO IPC CPU CPUS HTTP JSON URL API TTL GET POST PUT DELETE'.split(' '),
);
/** Redis commands a fill may call through a client in lower case (`this.redis.lpush(`): `LPUSH` in prose. */
const REDIS_COMMANDS = new Set(
  (
    'LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP BLPOP BRPOP LMOVE BLMOVE RPOPLPUSH BRPOPLPUSH LREM LRANGE LLEN LINDEX ' +
    'LSET LTRIM LPOS ZADD ZREM ZRANGE ZRANGEBYSCORE ZREVRANGE ZREVRANGEBYSCORE ZREMRANGEBYSCORE ZSCORE ZCARD ' +
    'ZCOUNT ZPOPMIN ZPOPMAX BZPOPMIN BZPOPMAX ZINCRBY HSET HGET HMGET HMSET HINCRBY HDEL HGETALL HLEN HEXISTS ' +
    'SETNX SETEX PSETEX GETSET GETDEL MSET MGET INCR INCRBY DECR DECRBY EXPIRE PEXPIRE EXPIREAT PERSIST PTTL ' +
    'EXISTS SCAN MULTI EXEC WATCH UNWATCH DISCARD EVAL EVALSHA SCRIPT PUBLISH SUBSCRIBE XADD XREAD XREADGROUP ' +
    'XACK XCLAIM XAUTOCLAIM SADD SREM SMEMBERS SISMEMBER SCARD SPOP'
  ).split(' '),
);

/** Splits code into identifiers, strings (contents) and punctuation, dropping comments and numbers. */
function lex(code: string, lua: boolean): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < code.length) {
    const c = code[i]!;
    const rest = code.slice(i);
    if (/\s/.test(c)) i++;
    else if (lua ? rest.startsWith('--') : rest.startsWith('//')) i = skipTo(code, i, '\n');
    else if (!lua && rest.startsWith('/*')) i = skipTo(code, i + 2, '*/') + 2;
    else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < code.length && code[j] !== c && (c === '`' || code[j] !== '\n'))
        j += code[j] === '\\' ? 2 : 1;
      tokens.push({ kind: 'str', text: code.slice(i + 1, j) });
      i = j + 1;
    } else if (/[A-Za-z_$]/.test(c)) {
      const word = /^[\w$]+/.exec(rest)![0];
      tokens.push({ kind: 'id', text: word });
      i += word.length;
    } else if (/\d/.test(c)) i += /^[\w.]+/.exec(rest)![0].length;
    else if (rest.startsWith('?.')) {
      tokens.push({ kind: 'punct', text: '.' });
      i += 2;
    } else {
      tokens.push({ kind: 'punct', text: lua && c === ':' ? '.' : c });
      i++;
    }
  }
  return tokens;
}

function skipTo(code: string, from: number, end: string): number {
  const at = code.indexOf(end, from);
  return at < 0 ? code.length : at;
}

const isCamel = (word: string) => /[a-z][A-Z]/.test(word) || /[A-Za-z0-9]_[A-Za-z0-9]/.test(word);
const isCapitals = (word: string) => /^[A-Z][A-Z0-9_]{2,}$/.test(word) && !PROSE_CAPITALS.has(word);

/**
 * The code tokens of some lines, each with the first line it comes from: calls (`postMessage(`), property
 * steps (`gen.next`, `this.stopped`), `new Worker`, `yield*`, camelCase and snake_case names, and capitals
 * (`BLMOVE`, `ZADD`, also as `.blmove(` and inside strings such as `'ZREM'`). A plain word (`pending`, `exit`)
 * is not a token: a message may use the words of the lesson, not its code.
 */
export function codeTokens(lines: { line: number; text: string }[], lua: boolean): Map<string, number> {
  const found = new Map<string, number>();
  for (const { line, text } of lines) {
    const add = (token: string) => {
      if (!found.has(token)) found.set(token, line);
    };
    const tokens = lex(text, lua);
    tokens.forEach((token, i) => {
      const previous = tokens[i - 1];
      const next = tokens[i + 1];
      const after = tokens[i + 2];
      if (token.kind === 'str') {
        for (const [word] of token.text.matchAll(/[A-Za-z_$][\w$]*/g)) {
          if (isCamel(word) || isCapitals(word)) add(word);
        }
        return;
      }
      if (token.kind !== 'id') return;
      const word = token.text;
      if (next?.text === '(' && !KEYWORDS.has(word)) add(`${word}(`);
      if (next?.text === '.' && after?.kind === 'id') add(`${word}.${after.text}`);
      if (word === 'new' && next?.kind === 'id') add(`new ${next.text}`);
      if (word === 'yield' && next?.text === '*') add('yield*');
      if (isCamel(word) || isCapitals(word)) add(word);
      const command = word.toUpperCase();
      if (previous?.text === '.' && next?.text === '(' && word.length >= 4 && REDIS_COMMANDS.has(command)) {
        add(command);
      }
    });
  }
  return found;
}

/** Whether a message contains a token as code: whole words, case as written. */
export function mentions(message: string, token: string): boolean {
  const escaped = token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const start = /^[\w$]/.test(token) ? '(?<![\\w$])' : '';
  const end = /[\w$]$/.test(token) ? '(?![\\w$])' : '';
  return new RegExp(`${start}${escaped}${end}`).test(message);
}

/** Rule (c): no stub message of a starter file holds code that its solution file fills in. */
export function leakProblems(starter: SourceText, solution: SourceText): string[] {
  const tokens = codeTokens(filledLines(starter.text, solution.text), starter.file.endsWith('.lua'));
  const problems: string[] = [];
  for (const stub of findStubs(starter)) {
    const leaked = [...tokens].filter(
      ([token]) => token !== `${stub.scope}(` && mentions(stub.message, token),
    );
    if (leaked.length === 0) continue;
    const list = leaked.map(([token, line]) => `'${token}' (${solution.file}:${line})`).join(', ');
    problems.push(`${stub.where}: stub ${stub.id}'s message tells the solution's code: ${list}`);
  }
  return problems;
}

/**
 * Rule (d): every TODO has at least two stages of hints, and the last one is the code: a fenced block, or an
 * inline code span that is a statement or a call (holds `(`, `=` or `;`), not just a name.
 */
export function hintProblems(lab: string, todoIds: string[], hints: Map<string, string[]>): string[] {
  const problems: string[] = [];
  for (const id of todoIds) {
    const stages = hints.get(id) ?? [];
    if (stages.length < 2) {
      problems.push(
        `${lab}/hints.md ## ${id}: ${stages.length} stage(s); a nudge first, the code last (2 or more)`,
      );
      continue;
    }
    const last = stages[stages.length - 1]!;
    if (!hasCode(last))
      problems.push(`${lab}/hints.md ## ${id}: the last stage holds no code: "${clip(last)}"`);
  }
  return problems;
}

function hasCode(stage: string): boolean {
  if (stage.includes('```')) return true;
  return [...stage.matchAll(/`([^`]+)`/g)].some((span) => /[(=;]/.test(span[1]!));
}

export function readSource(root: string, file: string): SourceText {
  return { file, text: readFileSync(join(root, file), 'utf8') };
}
