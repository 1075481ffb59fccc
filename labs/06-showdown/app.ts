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
import { NotImplemented } from '../../mini-queue/errors.ts';

/** The offloading handler: the work goes to the queue, the visitor gets `202 Accepted` and where to look. */
export async function offload(app: AppContext, task: string, args: unknown[]): Promise<Reply> {
  // TODO(06.1): enqueue `task` with `args` on app.queue, remember the handle's id in app.issued, and answer 202
  // with `{ id, status: '/status/<id>' }` right away. Do not wait for the result: a worker elsewhere computes it.
  throw new NotImplemented(
    '06.1',
    'the heavy work is not handed over yet: POST /thumbnail answers 501 where a 202 Accepted with a URL to poll belongs',
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
    'nothing reads where the work stands yet: polling the URL from a 202 answers 501, and an id nobody handed out is no 404',
  );
}
