// Local pools on one machine, for `poolstack cluster up/down` and the demo: N poolstackd processes
// on one shared port at consecutive loopback addresses (127.0.0.2, 127.0.0.3, … all reach lo on
// Linux), joined to the first with pool.join. Every wait is bounded, processes are found and
// stopped by pid, and only while their command line still names their data dir. A daemon's command
// line is self-sufficient: restarted as `ps` shows it, a host resumes its place in the pool.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XapiCallError, XapiClient } from '../rpc/client.js';
import { parseArgs } from './args.js';

const daemonJs = resolve(dirname(fileURLToPath(import.meta.url)), 'poolstackd.js');

/** Bounds on every wait (a first start makes a TLS key, a join copies the pool database). */
export const clusterLimits = {
  readyMs: 30_000,
  joinCallMs: 60_000,
  connectedMs: 60_000,
  callMs: 5_000,
  stopGraceMs: 10_000,
  killWaitMs: 5_000,
  pollMs: 100,
  portTries: 50,
  hostsMax: 64,
};

/** One host as `cluster up` prints it and writes to DIR/cluster.json. */
export interface ClusterHost {
  uuid: string;
  address: string;
  port: number;
  httpPort: number;
  pid: number;
  dataDir: string;
  master: boolean;
}

export interface ClusterInfo {
  password: string;
  hosts: ClusterHost[];
}

/** How to start one host. */
export interface HostPlan {
  readonly name: string;
  readonly dataDir: string;
  readonly address: string;
  readonly port: number;
  readonly httpPort: number;
  /** poolstackd's arguments (after the node binary). */
  readonly args: readonly string[];
}

export interface StartedHost {
  readonly plan: HostPlan;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal) when the process ends while we watch it. */
  readonly exited: Promise<string>;
  hasExited(): boolean;
}

// ---- pure helpers ------------------------------------------------------------------------------

/** The IPv4 address `i` places after `base` (127.0.0.2 + 1 = 127.0.0.3). */
export function addressAt(base: string, i: number): string {
  const parts = base.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255))
    throw new Error(`not an IPv4 address: ${base}`);
  const n = parts.reduce((acc, p) => acc * 256 + Number(p), 0) + i;
  if (n > 0xffffffff) throw new Error(`${base} + ${i} runs past 255.255.255.255`);
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** The data dir a poolstackd command line names (`--data-dir D` or `--data-dir=D`), if any. */
export function dataDirOf(argv: readonly string[]): string | undefined {
  if (!argv.some((a) => a.endsWith('poolstackd.js'))) return undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--data-dir') return argv[i + 1];
    if (a.startsWith('--data-dir=')) return a.slice('--data-dir='.length);
  }
  return undefined;
}

export function daemonArgs(o: {
  dataDir: string;
  address: string;
  port: number;
  httpPort: number;
  hostname: string;
  passwordFile?: string | undefined;
  extra?: readonly string[];
}): string[] {
  return [
    daemonJs,
    '--data-dir',
    o.dataDir,
    '--address',
    o.address,
    '--port',
    String(o.port),
    '--http-port',
    String(o.httpPort),
    '--hostname',
    o.hostname,
    ...(o.passwordFile === undefined ? [] : ['--root-password-file', o.passwordFile]),
    ...(o.extra ?? []),
  ];
}

// ---- processes ---------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(clusterLimits.pollMs);
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  } catch {
    return [];
  }
}

/** Whether `pid` is a poolstackd whose data dir is `dataDir` (false for a zombie: no cmdline). */
export function isDaemonOf(pid: number, dataDir: string): boolean {
  return dataDirOf(cmdline(pid)) === dataDir;
}

/** Gone or a zombie (a reaped-later child of an init that may never reap it). */
export function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** Every running poolstackd whose data dir is one of `dataDirs` or lies under `under`. */
export function findDaemons(sel: {
  dataDirs?: readonly string[];
  under?: string;
}): { pid: number; dataDir: string }[] {
  const out: { pid: number; dataDir: string }[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    const d = dataDirOf(cmdline(Number(e)));
    if (d === undefined) continue;
    if (sel.dataDirs?.includes(d) || (sel.under !== undefined && d.startsWith(sel.under + '/')))
      out.push({ pid: Number(e), dataDir: d });
  }
  return out;
}

/** SIGTERM, then SIGKILL after a bounded wait; only pids that still name their data dir. */
export async function stopDaemons(
  daemons: readonly { pid: number; dataDir: string }[],
): Promise<{ pid: number; dataDir: string; signal: 'SIGTERM' | 'SIGKILL' }[]> {
  const mine = daemons.filter((d) => isDaemonOf(d.pid, d.dataDir));
  const out: { pid: number; dataDir: string; signal: 'SIGTERM' | 'SIGKILL' }[] = [];
  await Promise.all(
    mine.map(async (d) => {
      try {
        process.kill(d.pid, 'SIGTERM');
      } catch {
        return;
      }
      const deadline = Date.now() + clusterLimits.stopGraceMs;
      while (!isGone(d.pid) && Date.now() < deadline) await sleep(clusterLimits.pollMs);
      let signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM';
      if (!isGone(d.pid) && isDaemonOf(d.pid, d.dataDir)) {
        signal = 'SIGKILL';
        process.kill(d.pid, 'SIGKILL');
        const killBy = Date.now() + clusterLimits.killWaitMs;
        while (!isGone(d.pid) && Date.now() < killBy) await sleep(clusterLimits.pollMs);
        if (!isGone(d.pid)) throw new Error(`pid ${d.pid} (${d.dataDir}) survived SIGKILL`);
      }
      out.push({ ...d, signal });
    }),
  );
  return out;
}

function portFree(address: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, address, () => s.close(() => res(true)));
  });
}

function anyFreePort(address: string): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', (e) =>
      rej(new Error(`cannot listen on ${address} (not a local address?): ${e.message}`)),
    );
    s.listen(0, address, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** A port free on every address (the pool's API port), not one of `avoid`. */
export async function sharedFreePort(
  addresses: readonly string[],
  avoid: readonly number[] = [],
): Promise<number> {
  const [first] = addresses;
  if (first === undefined) throw new Error('no addresses');
  for (let i = 0; i < clusterLimits.portTries; i++) {
    const p = await anyFreePort(first);
    if (avoid.includes(p)) continue;
    if ((await Promise.all(addresses.map((a) => portFree(a, p)))).every(Boolean)) return p;
  }
  throw new Error(`found no port free on all of ${addresses.join(', ')}`);
}

/** Refuses early, with the address, when a port the plan needs is taken. */
export async function checkPortsFree(plans: readonly HostPlan[]): Promise<void> {
  for (const p of plans)
    for (const port of [p.port, p.httpPort])
      if (!(await portFree(p.address, port)))
        throw new Error(`port ${port} on ${p.address} is in use (or ${p.address} is not a local address)`);
}

/**
 * Starts one poolstackd with stdout/stderr appended to DATA_DIR/stdout.log and waits (bounded)
 * for its ready file. Detached hosts outlive this process; attached ones share its process group,
 * so a terminal's Ctrl-C reaches them too.
 */
/** The hosts as `cluster up` prints them (and the demo records them). */
export function describeHosts(
  started: readonly StartedHost[],
  uuids: ReadonlyMap<string, string>,
  master: string,
): ClusterHost[] {
  return started.map((s) => ({
    uuid: uuids.get(s.plan.address) ?? '',
    address: s.plan.address,
    port: s.plan.port,
    httpPort: s.plan.httpPort,
    pid: s.pid,
    dataDir: s.plan.dataDir,
    master: s.plan.address === master,
  }));
}

export async function startHost(plan: HostPlan, detached: boolean): Promise<StartedHost> {
  mkdirSync(plan.dataDir, { recursive: true, mode: 0o700 });
  const readyFile = join(plan.dataDir, 'poolstackd.ready');
  rmSync(readyFile, { force: true });
  const log = openSync(join(plan.dataDir, 'stdout.log'), 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...plan.args], { detached, stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  let code: string | undefined;
  const exited = new Promise<string>((r) =>
    child.once('exit', (c, s) => {
      code = s ?? String(c);
      r(code);
    }),
  );
  child.once('error', () => (code ??= 'spawn failed'));
  if (detached) child.unref();
  const started: StartedHost = {
    plan,
    pid: child.pid ?? -1,
    child,
    exited,
    hasExited: () => code !== undefined,
  };
  await waitUntil(
    `${plan.name} to start (log: ${join(plan.dataDir, 'stdout.log')})`,
    clusterLimits.readyMs,
    async () => {
      if (code !== undefined)
        throw new Error(
          `${plan.name} exited (${code}) during start-up; see ${join(plan.dataDir, 'stdout.log')}`,
        );
      return existsSync(readyFile) ? true : undefined;
    },
  );
  return started;
}

// ---- the pool ----------------------------------------------------------------------------------

function client(address: string, port: number, timeoutMs = clusterLimits.callMs): XapiClient {
  return new XapiClient(`https://${address}:${port}`, { rejectUnauthorized: false, timeoutMs });
}

/**
 * What a login answers: 'master' when it succeeds, the master's address on a member
 * (HOST_IS_SLAVE), undefined on any other failure.
 */
export async function loginAnswer(
  address: string,
  port: number,
  password: string,
): Promise<string | undefined> {
  const c = client(address, port);
  try {
    await c.login('root', password);
    await c.logout().catch(() => undefined);
    return 'master';
  } catch (e) {
    if (e instanceof XapiCallError && e.code === 'HOST_IS_SLAVE') return e.params[0] ?? '';
    return undefined;
  } finally {
    c.close();
  }
}

/** Joins every host after the first to the first with pool.join, called on the joining host. */
export async function joinAll(plans: readonly HostPlan[], password: string): Promise<void> {
  const [first, ...rest] = plans;
  if (first === undefined) return;
  for (const p of rest) {
    const c = client(p.address, p.port, clusterLimits.joinCallMs);
    try {
      await c.login('root', password);
      await c.callSession('pool.join', first.address, 'root', password);
    } catch (e) {
      throw new Error(`${p.name} (${p.address}) could not join ${first.address}: ${String(e)}`);
    } finally {
      c.close();
    }
  }
}

/**
 * Waits (bounded) until the pool is whole: the master lists every host, each member live, all
 * holding the master's replica generation, and a login to each member answers HOST_IS_SLAVE
 * naming the master. Returns each host's uuid by address.
 */
export async function waitConnected(
  plans: readonly HostPlan[],
  masterAddress: string,
  password: string,
): Promise<Map<string, string>> {
  const port = plans[0]?.port ?? 0;
  let last = 'no answer yet';
  return waitUntil('the pool to connect', clusterLimits.connectedMs, async () => {
    const c = client(masterAddress, port);
    try {
      await c.login('root', password);
      const hosts = (await c.callSession('host.get_all_records')) as Record<string, Record<string, unknown>>;
      const metrics = (await c.callSession('host_metrics.get_all_records')) as Record<
        string,
        { live?: boolean }
      >;
      const byAddress = new Map<string, { uuid: string; gen: number; live: boolean }>();
      for (const h of Object.values(hosts))
        byAddress.set(String(h.address), {
          uuid: String(h.uuid),
          gen: Number(h.replica_generation),
          live: metrics[String(h.metrics)]?.live === true,
        });
      const masterGen = byAddress.get(masterAddress)?.gen ?? 0;
      const missing = plans.filter((p) => !byAddress.has(p.address)).map((p) => p.address);
      // Members: live once they stream from the master (the master's own flag says nothing of that).
      const notLive = [...byAddress].filter(([a, h]) => a !== masterAddress && !h.live).map(([a]) => a);
      // A one-host pool reports no replica generations.
      const behind =
        plans.length < 2
          ? []
          : [...byAddress].filter(([, h]) => h.gen !== masterGen || h.gen === 0).map(([a]) => a);
      if (missing.length > 0 || notLive.length > 0 || behind.length > 0) {
        const list = (xs: string[]) => (xs.length === 0 ? '-' : xs.join(' '));
        last = `master ${masterAddress} lists ${byAddress.size} host(s); missing: ${list(missing)}; not live: ${list(notLive)}; behind: ${list(behind)}`;
        return undefined;
      }
      for (const p of plans) {
        if (p.address === masterAddress) continue;
        const a = await loginAnswer(p.address, p.port, password);
        if (a !== masterAddress) {
          last = `a login to ${p.address} answers ${a === undefined ? 'nothing' : a === 'master' ? 'as a master' : `HOST_IS_SLAVE ${a}`}`;
          return undefined;
        }
      }
      return new Map([...byAddress].map(([a, h]) => [a, h.uuid]));
    } catch (e) {
      last = `${masterAddress}: ${e instanceof Error ? e.message : String(e)}`;
      return undefined;
    } finally {
      c.close();
    }
  }).catch((e: unknown) => {
    throw new Error(`${e instanceof Error ? e.message : String(e)} (last: ${last})`);
  });
}

/**
 * What a host says of its role, without credentials: a member refuses any pool-wide call with
 * HOST_IS_SLAVE before it looks at the session; a master rejects the null session instead.
 */
export async function roleOf(address: string, port: number): Promise<string | undefined> {
  const c = client(address, port);
  try {
    await c.call('host.get_all', ['OpaqueRef:NULL']);
    return 'master';
  } catch (e) {
    if (!(e instanceof XapiCallError)) return undefined;
    return e.code === 'HOST_IS_SLAVE' ? (e.params[0] ?? '') : 'master';
  } finally {
    c.close();
  }
}

/** The master, once exactly one host is master and every other names it in HOST_IS_SLAVE. */
export async function waitForMaster(plans: readonly HostPlan[]): Promise<string> {
  return waitUntil('the hosts to agree on a master', clusterLimits.connectedMs, async () => {
    const named = await Promise.all(plans.map((p) => roleOf(p.address, p.port)));
    const masters = plans.filter((_, i) => named[i] === 'master').map((p) => p.address);
    const [master] = masters;
    if (masters.length !== 1 || master === undefined) return undefined;
    return named.every((n) => n === 'master' || n === master) ? master : undefined;
  });
}

// ---- cluster up / down -------------------------------------------------------------------------

export interface UpOptions {
  dir: string;
  /** Required for a new cluster; when given for a stopped one, it must match. */
  hosts?: number | undefined;
  port?: number | undefined;
  baseAddress?: string | undefined;
  password?: string | undefined;
  /** Passed to every daemon (--heartbeat-interval-ms …). */
  extraArgs?: readonly string[];
  log?: (line: string) => void;
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

const commandFile = (dataDir: string) => join(dataDir, 'command.json');

/**
 * Starts a pool of detached daemons in DIR (or starts again the stopped pool DIR/cluster.json
 * describes), waits until it is whole and writes DIR/cluster.json. On failure it stops what it
 * started and names the logs.
 */
export async function clusterUp(o: UpOptions): Promise<ClusterInfo> {
  const dir = resolve(o.dir);
  const log = o.log ?? (() => undefined);
  const running = findDaemons({ under: dir });
  if (running.length > 0)
    throw new Error(
      `${dir} already holds a running cluster (pids ${running.map((r) => r.pid).join(' ')}); ` +
        `stop it first: poolstack cluster down --dir ${o.dir}`,
    );
  const infoFile = join(dir, 'cluster.json');
  const again = existsSync(infoFile);
  let password: string;
  let plans: HostPlan[];
  if (again) {
    const old = readJson<Partial<ClusterInfo>>(infoFile);
    if (typeof old.password !== 'string' || old.hosts === undefined)
      throw new Error(`${infoFile} was not written by cluster up (the demo's has no password)`);
    if (o.hosts !== undefined && o.hosts !== old.hosts.length)
      throw new Error(`${dir} holds a stopped ${old.hosts.length}-host cluster; delete it to make a new one`);
    password = old.password;
    plans = old.hosts.map((h, i) => ({
      name: `host${i + 1}`,
      dataDir: h.dataDir,
      address: h.address,
      port: h.port,
      httpPort: h.httpPort,
      args: readJson<string[]>(commandFile(h.dataDir)),
    }));
    log(`starting the stopped cluster in ${dir} again`);
  } else {
    if (existsSync(dir) && readdirSync(dir).length > 0)
      throw new Error(
        `${dir} is not empty and holds no cluster.json (a failed cluster up keeps its logs there); ` +
          'choose an empty or new directory',
      );
    const n = o.hosts ?? 0;
    if (!Number.isInteger(n) || n < 1 || n > clusterLimits.hostsMax)
      throw new Error(`--hosts must be a whole number from 1 to ${clusterLimits.hostsMax}`);
    const addresses = Array.from({ length: n }, (_, i) => addressAt(o.baseAddress ?? '127.0.0.2', i));
    const port = o.port ?? (await sharedFreePort(addresses));
    const httpPorts: number[] = [];
    for (const a of addresses) httpPorts.push(await sharedFreePort([a], [port, ...httpPorts]));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    password = o.password ?? randomBytes(12).toString('base64url');
    const passwordFile = join(dir, 'root-password');
    writeFileSync(passwordFile, password + '\n', { mode: 0o600 });
    plans = addresses.map((address, i) => {
      const name = `host${i + 1}`;
      const dataDir = join(dir, name);
      const httpPort = httpPorts[i] ?? 0;
      const args = daemonArgs({
        dataDir,
        address,
        port,
        httpPort,
        hostname: name,
        passwordFile,
        extra: o.extraArgs,
      });
      return { name, dataDir, address, port, httpPort, args };
    });
  }
  await checkPortsFree(plans);
  const started: StartedHost[] = [];
  try {
    for (const p of plans) {
      mkdirSync(p.dataDir, { recursive: true, mode: 0o700 });
      writeFileSync(commandFile(p.dataDir), JSON.stringify(p.args) + '\n');
    }
    // Members wait for their master; start them together.
    started.push(
      ...(await Promise.all(
        plans.map(async (p) => {
          const s = await startHost(p, true);
          log(`${p.name}: pid ${s.pid} at ${p.address}:${p.port}`);
          return s;
        }),
      )),
    );
    let master = plans[0]?.address ?? '';
    if (again) master = await waitForMaster(plans);
    else if (plans.length > 1) {
      log(`joining ${plans.length - 1} host(s) to ${master}`);
      await joinAll(plans, password);
    }
    const uuids = await waitConnected(plans, master, password);
    const info: ClusterInfo = { password, hosts: describeHosts(started, uuids, master) };
    writeFileSync(infoFile, JSON.stringify(info) + '\n', { mode: 0o600 });
    return info;
  } catch (e) {
    // Also a daemon that is still starting (not yet in `started`): find it by its data dir.
    const dataDirs = plans.map((p) => p.dataDir);
    await stopDaemons(findDaemons({ dataDirs })).catch(() => undefined);
    const logs = plans.map(
      (p) => `${join(p.dataDir, 'stdout.log')}, ${join(p.dataDir, 'logs', 'poolstackd.log')}`,
    );
    throw new Error(
      `${e instanceof Error ? e.message : String(e)}\nstopped what was started; logs:\n  ${logs.join('\n  ')}`,
    );
  }
}

/** Stops every daemon of DIR/cluster.json (found by pid in the file or by its data dir). */
export async function clusterDown(
  dirArg: string,
): Promise<{ pid: number; dataDir: string; signal: 'SIGTERM' | 'SIGKILL' }[]> {
  const dir = resolve(dirArg);
  const infoFile = join(dir, 'cluster.json');
  if (!existsSync(infoFile)) throw new Error(`${infoFile} not found: no cluster in ${dir}`);
  const info = readJson<{ hosts: ClusterHost[] }>(infoFile);
  const dataDirs = info.hosts.map((h) => h.dataDir);
  // The pids the file names, and any host restarted since (by hand, or by a test) under a new pid.
  const candidates = [
    ...info.hosts.map((h) => ({ pid: h.pid, dataDir: h.dataDir })),
    ...findDaemons({ dataDirs }),
  ];
  const unique = [...new Map(candidates.map((c) => [c.pid, c])).values()];
  return stopDaemons(unique);
}

const usage = `usage: poolstack cluster up --hosts N --dir DIR [--port P] [--base-address 127.0.0.2] [--password PW]
                          [--heartbeat-interval-ms N] [--dead-after-ms N] [--ack-timeout-ms N]
                          [--lease-duration-ms N]
       poolstack cluster down --dir DIR`;

/** `poolstack cluster up|down …`; prints the cluster as JSON on stdout, progress on stderr. */
export async function clusterCommand(argv: readonly string[]): Promise<void> {
  const [verb, ...rest] = argv;
  if (verb === 'up') {
    const timing = ['heartbeat-interval-ms', 'dead-after-ms', 'ack-timeout-ms', 'lease-duration-ms'];
    const a = parseArgs(rest, ['hosts', 'dir', 'port', 'base-address', 'password', ...timing]);
    const dir = a.get('dir');
    const hosts = a.get('hosts');
    const port = a.get('port');
    if (dir === undefined) throw new Error(usage);
    if (hosts !== undefined && !/^\d+$/.test(hosts)) throw new Error(`--hosts needs a number\n${usage}`);
    if (port !== undefined && !/^\d+$/.test(port)) throw new Error(`--port needs a port number\n${usage}`);
    const extraArgs = timing.flatMap((t) => {
      const v = a.get(t);
      return v === undefined ? [] : [`--${t}`, v];
    });
    const info = await clusterUp({
      dir,
      hosts: hosts === undefined ? undefined : Number(hosts),
      port: port === undefined ? undefined : Number(port),
      baseAddress: a.get('base-address'),
      password: a.get('password'),
      extraArgs,
      log: (l) => console.error(l),
    });
    console.log(JSON.stringify(info));
    return;
  }
  if (verb === 'down') {
    const a = parseArgs(rest, ['dir']);
    const dir = a.get('dir');
    if (dir === undefined) throw new Error(usage);
    const stopped = await clusterDown(dir);
    if (stopped.length === 0) console.log(`nothing running in ${resolve(dir)}`);
    for (const s of stopped) console.log(`stopped pid ${s.pid} (${s.dataDir}) with ${s.signal}`);
    return;
  }
  throw new Error(usage);
}
