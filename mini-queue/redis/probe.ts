import { connect } from 'node:net';

/**
 * True when something accepts a TCP connection at host:port within `timeoutMs`. Only a probe for "is there a
 * Redis here at all": the real client reports what it finds.
 */
export function answers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Waits until host:port answers, polling; false when `deadlineMs` passes first. */
export async function waitUntilAnswers(host: string, port: number, deadlineMs: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (await answers(host, port, 200)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}
