/**
 * Lab 06's web app around the attendee's handlers (app.ts): the HTTP plumbing, the routes, the inline design and
 * the status body. `startApp(parts, { design, queue })` serves on a free loopback port:
 *
 *   GET  /health                  200 { ok: true }: the cheap endpoint whose latency the demo watches
 *   POST /thumbnail, /predict     inline: the task computed in the handler, 200 with the result
 *                                 offload: parts.offload(), 202 with a status URL
 *   GET  /status/:id              parts.status()
 *
 * A TODO not done answers 501 with its guidance, a bad body 400, anything else 500.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResultRecord } from '../../mini-queue/broker.ts';
import { errorMessage, NotImplemented } from '../../mini-queue/errors.ts';
import exampleTasks from '../../mini-queue/examples/tasks.ts';
import type { Queue } from '../../mini-queue/queue.ts';
import type { AppContext, AppParts, Design, Reply } from './contract.ts';

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
export function computeInline(task: string, args: unknown[]): Reply {
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
async function route(
  parts: AppParts,
  app: AppContext,
  design: Design,
  request: IncomingMessage,
): Promise<Reply> {
  const path = new URL(request.url ?? '/', 'http://app').pathname;
  if (path === '/health') return { status: 200, body: { ok: true } };
  const id = /^\/status\/([^/]+)$/.exec(path)?.[1];
  if (id !== undefined) {
    if (request.method !== 'GET') return { status: 405, body: { error: 'GET /status/:id' } };
    const decoded = decodeURIComponent(id);
    if (!/^[\w.-]{1,200}$/.test(decoded))
      return { status: 404, body: { error: `'${decoded}' is not a task id` } };
    return parts.status(app, decoded);
  }
  const heavy = HEAVY[path];
  if (heavy) {
    if (request.method !== 'POST') return { status: 405, body: { error: `POST ${path} with a JSON body` } };
    const args = heavy.args(await readJson(request));
    return design === 'inline' ? computeInline(heavy.task, args) : parts.offload(app, heavy.task, args);
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

/** Starts the app, with the handlers of a track's app.ts, on a free loopback port. */
export async function startApp(
  parts: AppParts,
  options: { design: Design; queue: Queue; port?: number },
): Promise<App> {
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
    route(parts, context, options.design, request).then(send, (error: unknown) =>
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
