/**
 * Lab 06 — a web app that stays fast: hand the heavy work to the queue, answer at once.
 *
 * Goal: the talk's opening argument, live. `POST /thumbnail` (or `/predict`) is heavy: tens of ms of CPU. In the
 * `inline` design the request handler computes it, and while it does, the app's one event loop answers nobody:
 * every cheap `GET /health` waits behind it. In the `offload` design the same endpoint calls offload(): it
 * enqueues the work on mini-queue (Celery's `.delay()`), answers `202 Accepted` with a status URL, and a worker in
 * another process computes; `GET /status/:id` calls status() to tell the visitor how it is going. The HTTP
 * plumbing around these two handlers is kit/showdown/http-app.ts; what they receive, kit/showdown/contract.ts.
 *
 * Pass: `npx tsx labs/06-showdown` shows /health's p99 under load at most a tenth of its inline p99 once the work
 * is offloaded, and `npm run check -- 06` passes.
 *
 * Try this to break it: in offload(), `await handle.result()` before answering. Nothing blocks (result() polls
 * without blocking the loop), /health stays fast, and yet every visitor of /thumbnail waits as long as before,
 * and with no worker running, forever. `npm run check -- 06` answers with the check that says so.
 */
import type { AppContext, Reply } from '../../kit/showdown/contract.ts';
import { statusBody } from '../../kit/showdown/http-app.ts';

/** The offloading handler: the work goes to the queue, the visitor gets `202 Accepted` and where to look. */
export async function offload(app: AppContext, task: string, args: unknown[]): Promise<Reply> {
  // (06.1) one Redis round trip and answer: a worker elsewhere does the work, so never wait for the result here.
  const handle = await app.queue.enqueue(task, args);
  app.issued.add(handle.id);
  return { status: 202, body: { id: handle.id, status: `/status/${handle.id}` } };
}

/**
 * `GET /status/:id`: where a task is now. 200 with `statusBody(id, record)` (PENDING, STARTED, RETRY, SUCCESS with
 * `result`, FAILURE with `error`); 404 with `{ error }` naming the id when this app never issued it and Redis has
 * no record of it.
 */
export async function status(app: AppContext, id: string): Promise<Reply> {
  // (06.2) one read of the stored record, never handle.result(): a status page that waits is the inline design again.
  const record = await app.queue.handle(id).info();
  if (record === undefined && !app.issued.has(id)) {
    return {
      status: 404,
      body: { error: `no task '${id}': it was not enqueued here, or its result expired` },
    };
  }
  return { status: 200, body: statusBody(id, record) };
}
