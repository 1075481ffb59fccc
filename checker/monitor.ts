import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { parseRedisUrl } from '../mini-queue/redis/address.ts';
import { resolveRedisUrl } from '../mini-queue/redis/resolve.ts';
import { authCommand, encodeCommand } from '../mini-queue/redis/resp.ts';

/**
 * Redis's MONITOR on a socket of its own: every command the server runs, as its arguments, for checks that must
 * see *how* something was done (one atomic move, not a pop and a push). Not ioredis's monitor(): it switches to
 * monitor mode one tick after the +OK, so a monitor line that arrives in the same read as the +OK (any busy
 * Redis) hits its command queue and fails with "Command queue state error".
 */
export async function monitorRedis(onCommand: (args: string[]) => void): Promise<{ close(): void }> {
  const url = parseRedisUrl(await resolveRedisUrl());
  const port = Number(url.port || 6379);
  // A test's private Redis may use a self-signed certificate; this socket only reads what the server runs.
  const socket: Socket =
    url.protocol === 'rediss:'
      ? connectTls({ host: url.hostname, port, rejectUnauthorized: false })
      : connectTcp({ host: url.hostname, port });
  const auth = authCommand(url);
  return new Promise((resolve, reject) => {
    let buffered = '';
    let replies = 0;
    const expected = auth ? 2 : 1;
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let end = buffered.indexOf('\r\n');
      while (end >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        end = buffered.indexOf('\r\n');
        if (line.startsWith('-')) {
          reject(new Error(`MONITOR: ${line.slice(1)}`));
          socket.destroy();
          return;
        }
        if (replies < expected) {
          // +OK to AUTH, then to MONITOR: from here on every line is a command the server ran.
          if (++replies === expected) resolve({ close: () => socket.destroy() });
          continue;
        }
        onCommand(monitorArgs(line));
      }
    });
    if (auth) socket.write(encodeCommand(auth));
    socket.write(encodeCommand(['MONITOR']));
  });
}

/** `+1712098529.327989 [0 127.0.0.1:62763] "lmove" "a" "b"` → ['lmove', 'a', 'b'] (quotes unescaped). */
export function monitorArgs(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) =>
    m[1]!.replace(/\\(x[0-9a-f]{2}|.)/g, (_, e: string) =>
      e.length === 3
        ? String.fromCharCode(Number.parseInt(e.slice(1), 16))
        : e === 'n'
          ? '\n'
          : e === 'r'
            ? '\r'
            : e === 't'
              ? '\t'
              : e,
    ),
  );
}
