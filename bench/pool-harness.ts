// What the pool benchmarks share: poolstackd processes on 127.0.0.2, 127.0.0.3, … that all listen
// on one HTTPS port (as a pool's hosts do), a JSON-RPC client over plain HTTP, pool.join, and a
// worker thread that watches each host's own database file for the generation it durably holds.
// Loopback only; every wait is bounded; only the processes started here are stopped.
import Database from 'better-sqlite3';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  freePort,
  startDaemonProcess,
  TEST_PASSWORD,
  type DaemonHandle,
} from '../src/testing/daemon-process.js';
import { makeAgent, post, type Target } from './http-load.js';

const here = dirname(fileURLToPath(import.meta.url));

/** A wall-clock time in ms with sub-ms resolution, comparable between threads of this process. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const jsonCall = (method: string, params: unknown[], id: number | string = 1) =>
  JSON.stringify({ jsonrpc: '2.0', id, method, params });

export class RpcError extends Error {
  constructor(
    readonly method: string,
    readonly error: unknown,
  ) {
    super(`${method}: ${JSON.stringify(error)}`);
  }
}

/** JSON-RPC over plain HTTP to one host; failures throw RpcError. */
export class Rpc {
  private readonly agent;
  constructor(
    readonly target: Target,
    connections = 4,
  ) {
    this.agent = makeAgent(connections);
  }

  async call(method: string, params: unknown[]): Promise<unknown> {
    const r = await post(this.agent, this.target, '/jsonrpc', 'application/json', jsonCall(method, params));
    if (r.status !== 200) throw new Error(`${method}: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
    const msg = JSON.parse(r.body) as { result?: unknown; error?: unknown };
    if (msg.error !== undefined && msg.error !== null) throw new RpcError(method, msg.error);
    return msg.result;
  }

  login(): Promise<string> {
    return this.call('session.login_with_password', [
      'root',
      TEST_PASSWORD,
      '1.0',
      'poolstack-bench',
    ]) as Promise<string>;
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface PoolHost {
  readonly handle: DaemonHandle;
  readonly address: string;
  readonly rpc: Rpc;
  /** The host's SQLite file (read here only, never written). */
  readonly dbFile: string;
}

/** The parent folder of the data dirs (BENCH_DATA_DIR, as bench/run.ts), or test-output/. */
function dataDirFor(name: string): string | undefined {
  const parent = process.env.BENCH_DATA_DIR;
  if (parent === undefined || parent === '') return undefined;
  const dir = join(parent, `poolstack-bench-${name}-${process.pid}-${Date.now()}`, 'd');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Starts `count` standalone hosts on 127.0.0.(first), … sharing one HTTPS port, each a one-host
 * pool until it is joined. `extraArgs` go to every daemon (e.g. a heartbeat interval).
 */
export async function startHosts(
  prefix: string,
  count: number,
  first = 2,
  extraArgs: string[] = [],
): Promise<{ port: number; hosts: PoolHost[] }> {
  const port = await freePort(`127.0.0.${first}`);
  const settled = await Promise.allSettled(
    Array.from({ length: count }, async (_, i) => {
      const address = `127.0.0.${first + i}`;
      const name = `${prefix}-${i}`;
      const dataDir = dataDirFor(name);
      const handle = await startDaemonProcess({
        name,
        address,
        timeoutMs: 60_000,
        // The helper picks a free port per host; the pool's hosts must share one (the last --port wins).
        extraArgs: ['--port', String(port), ...extraArgs],
        ...(dataDir === undefined ? {} : { dataDir }),
      });
      const host: PoolHost = {
        handle,
        address,
        rpc: new Rpc({ host: address, port: handle.httpPort }, 8),
        dbFile: join(handle.dataDir, 'state.db'),
      };
      return host;
    }),
  );
  const hosts = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await stopHosts(hosts, true);
    throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
  }
  return { port, hosts };
}

/** Stops the hosts by their own pids; removes their data dirs unless `keep`. */
export async function stopHosts(hosts: readonly PoolHost[], keep: boolean): Promise<void> {
  for (const h of hosts) h.rpc.close();
  await Promise.all(hosts.map((h) => h.handle.stop()));
  for (const h of hosts) {
    if (keep) {
      console.log(`  data dir kept: ${h.handle.dataDir}`);
      continue;
    }
    h.handle.cleanup();
    if (process.env.BENCH_DATA_DIR) rmSync(dirname(h.handle.dataDir), { recursive: true, force: true });
  }
}

/** pool.join sent to `joiner` (logged in there first), naming the master by its address. */
export async function joinPool(joiner: PoolHost, masterAddress: string): Promise<void> {
  const s = await joiner.rpc.login();
  await joiner.rpc.call('pool.join', [s, masterAddress, 'root', TEST_PASSWORD]);
  // The joiner's sessions are gone with its old database; nothing to log out.
}

/** The generation a host's database durably holds (meta `applied_gen`), read from its file. */
export class GenReader {
  private db!: Database.Database;
  private stmt!: Database.Statement;
  private ino = -1;
  constructor(private readonly file: string) {
    this.reopenIfReplaced();
  }
  /** A host replaces its state.db whole when it installs a snapshot: follow the new file. */
  private reopenIfReplaced(): void {
    const ino = statSync(this.file).ino;
    if (ino === this.ino) return;
    if (this.ino !== -1) this.db.close();
    this.ino = ino;
    this.db = new Database(this.file, { readonly: true, fileMustExist: true });
    this.stmt = this.db.prepare("SELECT value FROM meta WHERE key = 'applied_gen'");
  }
  gen(): number {
    this.reopenIfReplaced();
    const row = this.stmt.get() as { value: string } | undefined;
    return row === undefined ? 0 : Number(row.value);
  }
  /** Rows and bytes of row bodies (what a snapshot of this database carries, nearly). */
  size(): { rows: number; bodyBytes: number } {
    const r = this.db.prepare('SELECT COUNT(*) AS n, SUM(LENGTH(body)) AS b FROM objects').get() as {
      n: number;
      b: number | null;
    };
    return { rows: r.n, bodyBytes: r.b ?? 0 };
  }
  close(): void {
    this.db.close();
  }
}

/** Waits until `cond` holds, polling every `everyMs`; false after `timeoutMs`. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 5) {
  const deadline = nowMs() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (nowMs() > deadline) return false;
    await sleep(everyMs);
  }
}

/** Each change of a host's durable generation: [time (nowMs), generation]. */
export type Transitions = [number, number][];

export interface PollResult {
  /** Per file, in the order given. */
  readonly transitions: Transitions[];
  readonly rounds: number;
  /** Mean time of one polling round (all files), ms. */
  readonly roundMs: number;
}

/**
 * Polls the `applied_gen` of several databases from a worker thread (so the benchmark's own
 * client work does not delay the observations), every `intervalMs`, recording each change.
 * A value is visible to another connection only once its commit is in the WAL and synced
 * (synchronous=FULL), so an observed generation is a durably held one.
 */
export class GenPoller {
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private readonly worker: Worker;
  private readonly started: Promise<void>;
  private readonly done: Promise<PollResult>;

  constructor(files: readonly string[], intervalMs = 0.5) {
    this.worker = new Worker(join(here, 'gen-poller.js'), {
      workerData: { files, intervalMs, flag: this.flag },
    });
    let onReady = () => {};
    this.started = new Promise<void>((r) => (onReady = r));
    this.done = new Promise<PollResult>((resolve, reject) => {
      this.worker.on('message', (m: { t: 'ready' } | ({ t: 'result' } & PollResult)) => {
        if (m.t === 'ready') onReady();
        else resolve(m);
      });
      this.worker.once('error', reject);
      this.worker.once('exit', (code) => reject(new Error(`generation poller exited with ${code}`)));
    });
    this.done.catch(() => undefined);
  }

  /** Resolves once the worker has made its first round (bounded). */
  async ready(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('generation poller did not start within 10 s')), 10_000);
    });
    try {
      await Promise.race([this.started, timeout, this.done.then(() => undefined)]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<PollResult> {
    Atomics.store(this.flag, 0, 1);
    Atomics.notify(this.flag, 0);
    const r = await this.done;
    await this.worker.terminate();
    return r;
  }
}

/** The first transition at or after `from` whose generation is ≥ gen, or undefined. */
export function firstReaching(tr: Transitions, gen: number, from = -Infinity): number | undefined {
  for (const [t, g] of tr) if (t >= from && g >= gen) return t;
  return undefined;
}

export function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}
