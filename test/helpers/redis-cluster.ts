import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { findRedisServer } from '../../mini-queue/redis/embedded.ts';
import { answers, waitUntilAnswers } from '../../mini-queue/redis/probe.ts';

const run = promisify(execFile);

/** Why a cluster test cannot run here, or undefined when redis-server and redis-cli are both on PATH. */
export async function clusterUnavailable(): Promise<string | undefined> {
  if (!findRedisServer()) return 'redis-server is not on PATH';
  try {
    await run('redis-cli', ['--version']);
  } catch {
    return 'redis-cli is not on PATH';
  }
  return undefined;
}

/** One redis-server of the cluster: its port and its process. */
export interface ClusterNode {
  port: number;
  child: ChildProcess;
}

/**
 * A Redis Cluster of the test's own: `masters` masters with one replica each, on consecutive free ports from a
 * random base in 17000-26999 (a node also listens on port + 10000 for the cluster bus, so both must be free).
 * `cluster-node-timeout` is low so a replica takes over a killed master within seconds.
 */
export class TestCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'mq-test-cluster-'));
  readonly nodes: ClusterNode[] = [];
  private masters = 0;
  private killed = 0;

  private constructor() {}

  static async start(options: { masters?: number; nodeTimeoutMs?: number } = {}): Promise<TestCluster> {
    const cluster = new TestCluster();
    try {
      await cluster.up(options.masters ?? 3, options.nodeTimeoutMs ?? 2000);
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
    return cluster;
  }

  /** `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…` over every node. */
  get url(): string {
    return `redis+cluster://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  private async up(masters: number, nodeTimeoutMs: number): Promise<void> {
    this.masters = masters;
    const count = masters * 2;
    const ports = await freePorts(count);
    for (const port of ports) {
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--dir',
          this.dir,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(this.dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          String(nodeTimeoutMs),
          '--save',
          '',
          '--appendonly',
          'no',
          // A replica's first sync otherwise waits 5 s for more replicas to share the transfer.
          '--repl-diskless-sync-delay',
          '0',
          '--daemonize',
          'no',
          '--logfile',
          join(this.dir, `redis-${port}.log`),
        ],
        { stdio: 'ignore' },
      );
      this.nodes.push({ port, child });
    }
    for (const { port } of this.nodes) {
      if (!(await waitUntilAnswers('127.0.0.1', port, 5000)))
        throw new Error(`cluster node ${port} did not start`);
    }
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    await this.waitOk(30_000);
  }

  /** Waits until every live node says `cluster_state:ok` and agrees on who holds all 16384 slots. */
  async waitOk(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(
        this.live().map(async (node) => {
          const info = await this.command(node.port, ['CLUSTER', 'INFO']).catch(() => '');
          const replication = await this.command(node.port, ['INFO', 'replication']).catch(() => '');
          const ok = /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info);
          return { ok, synced: /role:slave/.test(replication) && /master_link_status:up/.test(replication) };
        }),
      );
      const replicas = this.nodes.length - this.masters;
      if (states.every((s) => s.ok) && states.filter((s) => s.synced).length >= replicas - this.killed)
        return;
      if (Date.now() > end) throw new Error(`the test cluster is not ok after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** The nodes still running. */
  live(): ClusterNode[] {
    return this.nodes.filter((node) => node.child.exitCode === null && node.child.signalCode === null);
  }

  /** The port of the master that holds `key`'s slot now (as a live node sees it). */
  async masterOf(key: string): Promise<number> {
    const [node] = this.live();
    const client = new Redis({ port: node!.port, host: '127.0.0.1', lazyConnect: true });
    try {
      await client.connect();
      const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
      const ranges = (await client.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no node holds slot ${slot}`);
      return Number(range[2][1]);
    } finally {
      client.disconnect();
    }
  }

  /** SIGKILL of one node; resolves once it has exited. */
  async kill(port: number): Promise<void> {
    const node = this.nodes.find((n) => n.port === port);
    if (!node || node.child.exitCode !== null || node.child.signalCode !== null) return;
    const exited = new Promise((resolve) => node.child.once('exit', resolve));
    this.killed++;
    node.child.kill('SIGKILL');
    await exited;
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((node) => this.kill(node.port)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async command(port: number, args: string[]): Promise<string> {
    const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: 5000 });
    return stdout;
  }
}

/** `count` consecutive ports from a random base, each free along with its cluster-bus port (+10000). */
async function freePorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 17_000 + Math.floor(Math.random() * 10_000 - count);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    const taken = await Promise.all(
      ports.flatMap((p) => [answers('127.0.0.1', p, 100), answers('127.0.0.1', p + 10_000, 100)]),
    );
    if (!taken.some(Boolean)) return ports;
  }
  throw new Error('no free run of ports for a test cluster');
}
