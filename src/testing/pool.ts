// Starts a real pool for multi-process tests: N poolstackd processes on one port at distinct
// loopback addresses (127.0.R.2, 127.0.R.3, … with R picked at random so parallel test files do
// not meet), joined with pool.join. Every wait is bounded; hosts are stopped by their own pids.
import { XapiCallError, XapiClient } from '../rpc/client.js';
import {
  freePort,
  portFree,
  startDaemonProcess,
  TEST_PASSWORD,
  testOutputDir,
  waitFor,
  type DaemonHandle,
} from './daemon-process.js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

export interface PoolHost {
  handle: DaemonHandle;
  readonly name: string;
  readonly address: string;
}

export interface TestPool {
  readonly hosts: PoolHost[];
  readonly port: number;
  readonly dir: string;
  /** A logged-in client of `address` (the master, or a member for emergency calls). */
  client(address: string, opts?: { local?: boolean; timeoutMs?: number }): Promise<XapiClient>;
  /** The address every member names as master, once all running hosts agree. */
  master(timeoutMs?: number): Promise<string>;
  /** Restarts a stopped or killed host with the same command line. */
  restart(h: PoolHost): Promise<void>;
  /**
   * The machine is reinstalled: the host is killed, its data directory wiped, and a fresh
   * standalone host (new identity, its own one-host pool) started at the same address and port.
   */
  reinstall(h: PoolHost): Promise<void>;
  /** Starts a stopped host with the pool's options plus `extra` (e.g. --restore-host-backup F). */
  startWith(h: PoolHost, extra: string[]): Promise<void>;
  stopAll(): Promise<void>;
  cleanup(): void;
}

export interface PoolOptions {
  name: string;
  hosts: number;
  heartbeatIntervalMs?: number;
  deadAfterMs?: number;
  ackTimeoutMs?: number;
  leaseDurationMs?: number;
}

/** A login: the session on a master, or HOST_IS_SLAVE's master address on a member. */
export async function whoIsMaster(address: string, port: number): Promise<string | undefined> {
  const c = new XapiClient(`https://${address}:${port}`, { rejectUnauthorized: false, timeoutMs: 3000 });
  try {
    await c.login('root', TEST_PASSWORD);
    await c.logout().catch(() => undefined);
    return address;
  } catch (e) {
    if (e instanceof XapiCallError && e.code === 'HOST_IS_SLAVE') return e.params[0];
    return undefined;
  } finally {
    c.close();
  }
}

export async function startPool(opts: PoolOptions): Promise<TestPool> {
  const dir = testOutputDir(opts.name);
  const net = `127.0.${10 + Math.floor(Math.random() * 240)}`;
  const addresses = Array.from({ length: opts.hosts }, (_, i) => `${net}.${i + 2}`);
  let port = 0;
  for (let tries = 0; port === 0 && tries < 20; tries++) {
    // One port for all hosts: it must be free on every one of their addresses.
    const p = await freePort(addresses[0]);
    const free = await Promise.all(addresses.map((a) => portFree(a, p)));
    if (free.every(Boolean)) port = p;
  }
  const extraArgs = [
    '--port',
    String(port),
    '--heartbeat-interval-ms',
    String(opts.heartbeatIntervalMs ?? 300),
    '--dead-after-ms',
    String(opts.deadAfterMs ?? 2000),
    '--ack-timeout-ms',
    String(opts.ackTimeoutMs ?? 5000),
    '--lease-duration-ms',
    String(opts.leaseDurationMs ?? 10000),
  ];
  const hosts: PoolHost[] = [];
  for (const [i, address] of addresses.entries()) {
    const name = `${opts.name}-h${i + 1}`;
    try {
      const handle = await startDaemonProcess({ name, address, dataDir: join(dir, `h${i + 1}`), extraArgs });
      hosts.push({ handle, name, address });
    } catch (e) {
      // The hosts already started are stopped (their data dirs stay for the failure's reader):
      // left running, they would keep the test process alive.
      await Promise.all(hosts.map((h) => h.handle.stop()));
      throw e;
    }
  }
  const client = async (address: string, o: { local?: boolean; timeoutMs?: number } = {}) => {
    const c = new XapiClient(`https://${address}:${port}`, {
      rejectUnauthorized: false,
      timeoutMs: o.timeoutMs ?? 15000,
    });
    if (o.local) {
      const ref = await c.call('session.slave_local_login_with_password', ['root', TEST_PASSWORD]);
      c.useSession(String(ref));
    } else await c.login('root', TEST_PASSWORD);
    return c;
  };
  const [first, ...rest] = addresses;
  for (const a of rest) {
    const c = await client(a);
    try {
      await c.callSession('pool.join', first, 'root', TEST_PASSWORD);
    } finally {
      c.close();
    }
  }
  const pool: TestPool = {
    hosts,
    port,
    dir,
    client,
    master: (timeoutMs = 20000) =>
      waitFor('every host to name one master', timeoutMs, async () => {
        const named = await Promise.all(hosts.map((h) => whoIsMaster(h.address, port)));
        const m = named[0];
        return m !== undefined && named.every((n) => n === m) ? m : undefined;
      }),
    restart: async (h) => {
      h.handle = await h.handle.restart();
    },
    startWith: async (h, extra) => {
      h.handle = await startDaemonProcess({
        name: h.name,
        address: h.address,
        dataDir: h.handle.dataDir,
        extraArgs: [...extraArgs, ...extra],
      });
    },
    reinstall: async (h) => {
      await h.handle.kill();
      const dataDir = h.handle.dataDir;
      rmSync(dataDir, { recursive: true, force: true });
      h.handle = await startDaemonProcess({ name: h.name, address: h.address, dataDir, extraArgs });
    },
    stopAll: async () => {
      await Promise.all(hosts.map((h) => h.handle.stop()));
    },
    cleanup: () => {
      for (const h of hosts) h.handle.cleanup();
    },
  };
  // Every member streams from the master before the test starts.
  const master = await client(first ?? '');
  try {
    await waitFor('members to catch up', 20000, async () => {
      await master.callSession('pool.sync_database');
      const recs = (await master.callSession('host.get_all_records')) as Record<
        string,
        { replica_generation: number }
      >;
      const gens = Object.values(recs).map((r) => r.replica_generation);
      return gens.length === opts.hosts && gens.every((g) => g > 0 && g === gens[0]) ? true : undefined;
    });
  } finally {
    master.close();
  }
  return pool;
}

/** Runs `body` on a fresh pool; keeps its data dirs (and says where) if it fails. */
export function withPool(
  name: string,
  hosts: number,
  body: (pool: TestPool) => Promise<void>,
  opts: Partial<PoolOptions> = {},
) {
  return async () => {
    const pool = await startPool({ ...opts, name, hosts });
    let ok = false;
    try {
      await body(pool);
      ok = true;
    } finally {
      await Promise.all(
        pool.hosts.map(async (h) => {
          try {
            process.kill(h.handle.pid, 'SIGCONT');
          } catch {
            // already gone
          }
          await h.handle.stop();
        }),
      );
      if (ok) pool.cleanup();
      else console.log(`# ${name}: kept the data dirs in ${pool.dir}`);
    }
  };
}
