/**
 * The loopback server of section 4 in a process of its own: `node --import tsx bench/io-server.ts LATENCY_MS`
 * prints its URL and serves until its stdin closes (the bench ended, or died). In its own process it has its
 * own core, as a remote server would: in the bench's process, serving would take event-loop time from the pools
 * being measured.
 */
import { startExampleServer } from '../mini-queue/examples/server.ts';

const server = await startExampleServer({ latencyMs: Number(process.argv[2] ?? 50) });
console.log(server.url);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume(); // the server unrefs itself; stdin keeps this process alive
