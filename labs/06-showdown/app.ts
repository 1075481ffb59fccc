/**
 * Lab 06 — a web app that stays fast: hand the heavy work to the queue, answer at once.
 *
 * Goal: the talk's opening argument, live. `POST /thumbnail` (or `/predict`) is heavy: tens of ms of CPU. In the
 * `inline` design the request handler computes it, and while it does, the app's one event loop answers nobody:
 * every cheap `GET /health` waits behind it. In the `offload` design the same endpoint enqueues the work on
 * mini-queue (Celery's `.delay()`), answers `202 Accepted` with a status URL, and a worker in another process
 * computes; `GET /status/:id` tells the visitor how it is going.
 *
 * Pass: `npx tsx labs/06-showdown` shows /health's p99 under load at most a tenth of its inline p99 once the work
 * is offloaded, and `npm run check -- 06` passes.
 *
 * Try this to break it: in offload(), `await handle.result()` before answering. Nothing blocks (result() polls
 * without blocking the loop), /health stays fast, and yet every visitor of /thumbnail waits as long as before,
 * and with no worker running, forever. `npm run check -- 06` answers with the check that says so.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResultRecord } from '../../mini-queue/broker.ts';
import { errorMessage, NotImplemented } from '../../mini-queue/errors.ts';
import exampleTasks from '../../mini-queue/examples/tasks.ts';
import type { Queue } from '../../mini-queue/queue.ts';

/** What a handler answers: an HTTP status and a JSON body. */
export interface Reply {
  status: number;
  body: unknown;
}

/** What the handlers share. */
export interface AppContext {
  /** The producer side of mini-queue: `enqueue()` and `handle(id)`. */
  queue: Queue;
  /**
   * Ids this app handed out. A task nobody has started yet has no record in Redis, exactly like an id that never
   * existed (Celery answers PENDING for both): this set tells them apart. A real app keeps it in its database.
   */
  issued: Set<string>;
}

/**
 * The offloading handler: the work goes to the queue, the visitor gets `202 Accepted` and where to look.
 * Answers `{ status: 202, body: { id, status: '/status/<id>' } }`.
 */
export async function offload(app: AppContext, task: string, args: unknown[]): Promise<Reply> {
  // TODO(06.1): enqueue `task` with `args` on app.queue, remember the handle's id in app.issued, and answer 202
  // with `{ id, status: '/status/<id>' }` right away. Do not wait for the result: a worker elsewhere computes it.
  throw new NotImplemented(
    '06.1',
    `offload(): enqueue ${task}(${JSON.stringify(args).slice(1, -1)}) on app.queue ('${app.queue.name}'), add its id to app.issued, answer 202 { id, status: '/status/<id>' } at once`,
  );
}

/**
 * `GET /status/:id`: where a task is now. 200 with `statusBody(id, record)` (PENDING, STARTED, RETRY, SUCCESS with
 * `result`, FAILURE with `error`); 404 with `{ error }` naming the id when this app never issued it and Redis has
 * no record of it.
 */
export async function status(app: AppContext, id: string): Promise<Reply> {
  // TODO(06.2): read the task's record once (app.queue.handle(id).info(): undefined while nothing started it).
  // No record and not in app.issued: 404 with an `error` naming the id. Otherwise 200 with statusBody(id, record).
  throw new NotImplemented(
    '06.2',
    `status(): read the record of '${id}' once (app.queue.handle(id).info()); 404 unless it has one or is among the ${app.issued.size} issued ids; else 200 statusBody()`,
  );
}

// Don't change below this line: the HTTP plumbing around your handlers.

/** The two designs of the same app: compute in the request handler, or hand the work to mini-queue. */
export type Design = 'inline' | 'offload';

/** The heavy endpoints: the example task behind each, and its arguments taken from the JSON body. */
export const HEAVY: Record<string, { task: string; args: (body: Record<string, unknown>) => unknown[] }> = {
  '/thumbnail': { task: 'thumbnail', args: (body) => [whole(body.size ?? 512, 'size', 8, 4096)] },
  '/predict': { task: 'predict', args: (body) => [whole(body.samples ?? 32, 'samples', 1, 4096)] },
};

/** A task's record as the status endpoint shows it; `undefined` (no record yet) is PENDING. */
export function statusBody(id: string, record: ResultRecord | undefined): Record<string, unknown> {
  if (record === undefined) return { id, state: 'PENDING' };
  return {
    id,
    task: record.task,
    state: record.state,
    ...(record.state === 'SUCCESS' ? { result: record.result } : {}),
    ...(record.error ? { error: `${record.error.name}: ${record.error.message}` } : {}),
    ...(record.lane ? { lane: record.lane } : {}),
    ...(record.startedAt ? { startedAt: record.startedAt } : {}),
    ...(record.finishedAt ? { finishedAt: record.finishedAt } : {}),
  };
}

/** The inline design: the handler runs the task itself. While it computes, this process answers nobody. */
function computeInline(task: string, args: unknown[]): Reply {
  const fn = exampleTasks[task as 'thumbnail'] as (...a: unknown[]) => unknown;
  const context = { id: 'inline', attempt: 0, signal: new AbortController().signal };
  return { status: 200, body: { state: 'SUCCESS', result: fn.apply(context, args) } };
}

class BadRequest extends Error {}

function whole(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new BadRequest(`'${name}' must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

const MAX_BODY = 64 * 1024;

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of request) {
    text += String(chunk);
    if (text.length > MAX_BODY) throw new BadRequest(`the body is larger than ${MAX_BODY} bytes`);
  }
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BadRequest('the body must be JSON, e.g. {"size": 512}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BadRequest('the body must be a JSON object, e.g. {"size": 512}');
  }
  return parsed as Record<string, unknown>;
}

/** Routes one request: /health, the heavy endpoints (inline or offloaded), /status/:id. */
async function route(app: AppContext, design: Design, request: IncomingMessage): Promise<Reply> {
  const path = new URL(request.url ?? '/', 'http://app').pathname;
  if (path === '/health') return { status: 200, body: { ok: true } };
  const id = /^\/status\/([^/]+)$/.exec(path)?.[1];
  if (id !== undefined) {
    if (request.method !== 'GET') return { status: 405, body: { error: 'GET /status/:id' } };
    const decoded = decodeURIComponent(id);
    if (!/^[\w.-]{1,200}$/.test(decoded))
      return { status: 404, body: { error: `'${decoded}' is not a task id` } };
    return status(app, decoded);
  }
  const heavy = HEAVY[path];
  if (heavy) {
    if (request.method !== 'POST') return { status: 405, body: { error: `POST ${path} with a JSON body` } };
    const args = heavy.args(await readJson(request));
    return design === 'inline' ? computeInline(heavy.task, args) : offload(app, heavy.task, args);
  }
  return {
    status: 404,
    body: { error: `no route ${request.method} ${path}: try GET /health, POST /thumbnail, GET /status/:id` },
  };
}

export interface App {
  readonly url: string;
  readonly design: Design;
  readonly context: AppContext;
  close(): Promise<void>;
}

/** Starts the app on a free loopback port. */
export async function startApp(options: { design: Design; queue: Queue; port?: number }): Promise<App> {
  const context: AppContext = { queue: options.queue, issued: new Set() };
  const server: Server = createServer((request, response) => {
    const send = ({ status, body }: Reply) => {
      const text = JSON.stringify(body);
      response.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      response.end(text);
    };
    route(context, options.design, request).then(send, (error: unknown) =>
      // A TODO not done answers 501 Not Implemented with its guidance; a bad body 400; anything else 500.
      send({
        status: error instanceof NotImplemented ? 501 : error instanceof BadRequest ? 400 : 500,
        body: { error: errorMessage(error) },
      }),
    );
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    design: options.design,
    context,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
