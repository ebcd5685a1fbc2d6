// One host's daemon: opens the DB in the data dir, creates the one-host pool on first start,
// reconciles with the hypervisor, and serves the API over HTTPS (and plain HTTP when asked).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Clock, Random } from '../base/clock.js';
import type { Logger } from '../base/log.js';
import { limits } from '../base/limits.js';
import { defaultCoordinatorConfig, PoolCoordinator } from '../cluster/coordinator.js';
import { LEASE_DURATION_DEFAULT_MS, LEASE_DURATION_MIN_MS, leaseTiming } from '../cluster/lease.js';
import { Db } from '../db/db.js';
import { SqliteStore } from '../db/sqlite-store.js';
import type { HypervisorDriver } from '../drivers/hypervisor/driver.js';
import { SimHypervisor } from '../drivers/hypervisor/sim/sim-driver.js';
import type { StorageDriver } from '../drivers/storage/driver.js';
import { FileSr, formatFromDeviceConfig } from '../drivers/storage/file/file-sr.js';
import type { HostPower, Services } from '../impl/context.js';
import { AgentFailure, reconcileMember, remote, runAgentCall } from '../impl/host/agent.js';
import { AUTO_ENABLE_KEY } from '../impl/host/host.js';
import { HostLeases, LeaseRecords } from '../impl/host/leases.js';
import { ScheduledBackups } from '../impl/pool/backup.js';
import { checkDefaultSr } from '../impl/pool/default-sr.js';
import { firstStart, reconcile, type HostIdentity } from '../impl/host/bootstrap.js';
import { attachHostStorage } from '../impl/storage/sr.js';
import { sweepSessions } from '../impl/session.js';
import { sweepTasks } from '../impl/task.js';
import { ApiError } from '../model/errors.js';
import { classes, type Rec } from '../model/index.js';
import { ApiHttpServer } from '../rpc/http-server.js';
import { ScryptAuthenticator, writePasswordHash } from './auth.js';
import { consoleRoute } from './console-route.js';
import { dbTransferRoute } from './db-transfer.js';
import { HostBackupError, makeHostBackup, stageHostBackup } from './host-backup.js';
import { buildMethods } from './methods.js';
import { Pipeline } from './pipeline.js';
import { cryptoRandom, systemClock } from './system.js';

export interface DaemonOptions {
  dataDir: string;
  address: string;
  port: number;
  httpPort?: number | undefined;
  driver: 'sim';
  hostname?: string | undefined;
  /** Only read at first start, when no password hash exists yet. */
  rootPassword?: string | undefined;
  authFailureDelayMs?: number | undefined;
  logLevel?: string | undefined;
  /** Idle time after which a session is destroyed, and how often that is checked (tests shorten them). */
  sessionIdleMs?: number | undefined;
  sweepIntervalMs?: number | undefined;
  /** Sessions one user may hold before the least recently used is destroyed. */
  sessionsPerUserMax?: number | undefined;
  /** Pool heartbeats, the silence after which a host is dead, and how long a write waits for its quorum. */
  heartbeatIntervalMs?: number | undefined;
  deadAfterMs?: number | undefined;
  ackTimeoutMs?: number | undefined;
  /** Disk leases: another host may take a disk this long after its holder stopped renewing. */
  leaseDurationMs?: number | undefined;
  /** What host.shutdown and host.reboot do to this process (the binary exits or re-executes). */
  power?: HostPower;
  clock?: Clock;
  random?: Random;
}

export interface Daemon {
  readonly port: number;
  readonly httpPort: number | undefined;
  readonly hostRef: string;
  readonly db: Db;
  readonly cluster: PoolCoordinator;
  stop(): Promise<void>;
}

const LOCAL_HOST_KEY = 'local_host_ref';

/** Outside a managed process: shutdown stops with SIGTERM's path, reboot is the same (a supervisor restarts). */
const defaultPower: HostPower = {
  shutdown: () => process.kill(process.pid, 'SIGTERM'),
  reboot: () => process.kill(process.pid, 'SIGTERM'),
};

function ensureTls(dir: string, name: string): { key: string; cert: string } {
  const key = join(dir, 'server.key');
  const cert = join(dir, 'server.crt');
  if (!existsSync(key) || !existsSync(cert)) {
    mkdirSync(dir, { recursive: true });
    // A self-signed certificate per host, as xapi makes at first boot.
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '3650',
        '-subj',
        `/CN=${name}`,
        '-addext',
        `subjectAltName=DNS:${name},DNS:localhost,IP:127.0.0.1`,
      ],
      { stdio: 'ignore' },
    );
  }
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

/** The audit log: written synchronously line by line, so a crash cannot lose who did what. */
function makeAuditLogger(dataDir: string): Logger {
  const dest = pino.destination({ dest: join(dataDir, 'logs', 'audit.log'), sync: true, mkdir: true });
  return pino({ level: 'info', base: undefined }, dest);
}

function makeLogger(dataDir: string, level: string): { log: Logger; flush: () => void } {
  mkdirSync(join(dataDir, 'logs'), { recursive: true });
  const dest = pino.destination({ dest: join(dataDir, 'logs', 'poolstackd.log'), sync: false, mkdir: true });
  const p = pino({ level, base: { pid: process.pid } }, dest);
  return { log: p, flush: () => dest.flushSync() };
}

function macFrom(random: Random): string {
  const b = random.bytes(6);
  b[0] = ((b[0] ?? 0) & 0xfc) | 0x02;
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}

/**
 * SR types this host can open: 'ext', the host's local directory SR (device-config:path), and
 * 'file', a directory SR named by device-config:location (XenServer's file SR).
 */
const storageTypes = ['ext', 'file'];

function openStorage(type: string, deviceConfig: Record<string, string>): StorageDriver {
  const dir = type === 'file' ? deviceConfig.location : type === 'ext' ? deviceConfig.path : undefined;
  if (dir === undefined || dir === '') throw new Error(`cannot open SR type ${type} without a directory`);
  // The image format is fixed per SR by its device-config (docs/storage-vdis.md).
  return new FileSr({ dir, type, format: formatFromDeviceConfig(deviceConfig) });
}

/** Storage drivers for the SRs whose PBD on this host is attached. */
function attachStorage(db: Db, hostRef: string): Map<string, StorageDriver> {
  const out = new Map<string, StorageDriver>();
  for (const row of db.all('PBD').values()) {
    const pbd = row.rec as Rec<'PBD'>;
    if (pbd.host !== hostRef || !pbd.currently_attached) continue;
    const sr = db.get('SR', pbd.SR) as Rec<'SR'> | undefined;
    if (sr !== undefined && storageTypes.includes(sr.type))
      out.set(pbd.SR, openStorage(sr.type, pbd.device_config));
  }
  return out;
}

/** The root password hash must exist before the first start can complete. */
async function ensurePassword(passwordFile: string, rootPassword: string | undefined): Promise<void> {
  if (existsSync(passwordFile)) return;
  if (rootPassword === undefined || rootPassword === '') {
    throw new Error(
      'first start needs a root password: --root-password-file FILE or POOLSTACK_ROOT_PASSWORD',
    );
  }
  await writePasswordHash(passwordFile, 'root', rootPassword);
}

type BaseServices = Omit<Services, 'hostRef' | 'cluster' | 'certificate' | 'lifecycle'>;

/** Everything the implementations use except the host's own ref (not known before first start). */
function baseServices(
  opts: DaemonOptions,
  store: SqliteStore,
  db: Db,
  hypervisor: HypervisorDriver,
  log: Logger,
  storage: Map<string, StorageDriver>,
): BaseServices {
  return {
    db,
    clock: opts.clock ?? systemClock,
    random: opts.random ?? cryptoRandom,
    log,
    audit: makeAuditLogger(opts.dataDir),
    hypervisor,
    storage,
    auth: new ScryptAuthenticator(join(opts.dataDir, 'root-password.scrypt')),
    config: {
      authFailureDelayMs: opts.authFailureDelayMs ?? limits.authFailureDelayMs,
      sessionIdleMs: opts.sessionIdleMs ?? limits.sessionIdleMs,
      sessionsPerUserMax: opts.sessionsPerUserMax ?? limits.sessionsPerUserMax,
    },
    taskAborts: new Map<string, AbortController>(),
    storageTypes,
    openStorage,
    localState: { get: (k: string) => store.getMeta(k), put: (k: string, v: string) => store.putMeta(k, v) },
    power: {
      // Deferred so the reply to host.shutdown/reboot is sent first.
      shutdown: () => setTimeout(() => (opts.power ?? defaultPower).shutdown(), 100),
      reboot: () => setTimeout(() => (opts.power ?? defaultPower).reboot(), 100),
    },
  };
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const clock = opts.clock ?? systemClock;
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const { log, flush } = makeLogger(opts.dataDir, opts.logLevel ?? 'info');
  await ensurePassword(join(opts.dataDir, 'root-password.scrypt'), opts.rootPassword);
  const store = new SqliteStore(join(opts.dataDir, 'state.db'));
  const db = new Db(store, classes, clock);
  const sim = new SimHypervisor({ stateDir: join(opts.dataDir, 'sim'), clock });
  const storage = new Map<string, StorageDriver>();
  const leaseMs = opts.leaseDurationMs ?? LEASE_DURATION_DEFAULT_MS;
  // Renewals every sixth of it must stay well above the storage's write latency.
  if (!(leaseMs >= LEASE_DURATION_MIN_MS))
    throw new Error(`--lease-duration-ms must be at least ${LEASE_DURATION_MIN_MS} (got ${leaseMs})`);
  const timing = leaseTiming(leaseMs);
  // Every domain operation goes through the host's disk leases (docs/storage.md).
  const leases: HostLeases = new HostLeases(sim, {
    hostUuid: () => (db.get('host', svc.hostRef) as Rec<'host'> | undefined)?.uuid ?? '',
    clock,
    random: opts.random ?? cryptoRandom,
    log: log.child({ module: 'leases' }),
    timing,
    storage,
    epoch: (): number => cluster.currentEpoch,
    waitMs: timing.durationMs + timing.renewMs,
  });
  const hypervisor: HypervisorDriver = {
    name: sim.name,
    host: sim.host,
    vm: leases.vm,
    close: () => sim.close(),
  };
  const leaseRecords = new LeaseRecords(
    () => svc,
    timing.durationMs,
    (host) => reconcileMember(svc, host),
  );
  const info = await hypervisor.host.info();
  const hostname = opts.hostname ?? osHostname();
  const id: HostIdentity = { hostname, address: opts.address, localSrDir: join(opts.dataDir, 'sr', 'local') };
  const tls = ensureTls(join(opts.dataDir, 'tls'), hostname);
  const svcBase = baseServices(opts, store, db, hypervisor, log, storage);
  const { random } = svcBase;
  const newPool = (): string => {
    const ref = firstStart(
      {
        ...svcBase,
        hostRef: '',
        cluster: undefined as never,
        certificate: tls.cert,
        lifecycle: undefined as never,
      },
      id,
      info,
      macFrom(random),
    );
    store.putMeta(LOCAL_HOST_KEY, ref);
    return ref;
  };
  let hostRef = store.getMeta(LOCAL_HOST_KEY) ?? '';
  if (hostRef === '') {
    hostRef = newPool();
    log.info({ hostRef }, 'created a new one-host pool');
  }
  const attach = async () => {
    storage.clear();
    for (const [sr, drv] of attachStorage(db, svc.hostRef)) {
      // Storage that is gone (an unmounted share) must not keep the host from starting; the
      // master records such a PBD as not attached when it re-attaches this host's storage.
      try {
        await drv.attach();
        storage.set(sr, drv);
      } catch (e) {
        log.warn({ sr, err: String(e) }, 'could not attach an SR at start');
      }
    }
  };
  const cluster: PoolCoordinator = new PoolCoordinator({
    db,
    clock,
    random,
    log: log.child({ module: 'cluster' }),
    local: svcBase.localState,
    hostRef: () => svc.hostRef,
    selfAddress: opts.address,
    port: opts.port,
    certificate: tls.cert,
    config: {
      ...defaultCoordinatorConfig,
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? defaultCoordinatorConfig.heartbeatIntervalMs,
      deadAfterMs: opts.deadAfterMs ?? defaultCoordinatorConfig.deadAfterMs,
      ackTimeoutMs: opts.ackTimeoutMs ?? defaultCoordinatorConfig.ackTimeoutMs,
    },
    memberConnected: async (host) => {
      // Storage first: a joining host gets its PBDs of the pool's shared SRs attached.
      await attachHostStorage(svc, host).catch((e: unknown) =>
        log.warn({ host, err: String(e) }, 'could not attach the storage of a member'),
      );
      await reconcileMember(svc, host);
    },
    leaseReport: (): unknown => leases.report(),
    leasesReported: (host, report) => leaseRecords.record(host, report),
    // The guide asks the operator to check default-SR after a master change: the new master does.
    becameMaster: () => setImmediate(() => checkDefaultSr(svc)),
    agent: async (call, args) => {
      if (call === 'host.backup') return { ok: true, value: hostBackupHere() };
      if (call === 'host.restore') {
        try {
          return { ok: true, value: stageHere(String(args[0])) };
        } catch (e) {
          if (e instanceof ApiError)
            return { ok: false, kind: 'api', code: e.code, message: JSON.stringify(e.params) };
          throw e;
        }
      }
      try {
        return { ok: true, value: await runAgentCall(hypervisor, { storage, openStorage }, call, args) };
      } catch (e) {
        if (e instanceof AgentFailure) return { ok: false, kind: e.kind, code: e.code, message: e.message };
        throw e;
      }
    },
    // Ejected: this host starts again as a new one-host pool, in-process.
    resetToStandalone: async () => {
      (svc as { hostRef: string }).hostRef = newPool();
      await attach();
      await settleAsMaster();
      log.warn({ hostRef: svc.hostRef }, 'ejected from the pool: now a new one-host pool');
    },
  });
  const hostBackupHere = () => makeHostBackup(svc, opts.dataDir, (k) => store.getMeta(k));
  const stageHere = (text: string) => {
    try {
      return stageHostBackup(text, opts.dataDir, (db.get('host', svc.hostRef) as Rec<'host'>).uuid);
    } catch (e) {
      if (e instanceof HostBackupError) throw new ApiError('RESTORE_INVALID_BACKUP', [e.message]);
      throw e;
    }
  };
  const svc: Services = {
    ...svcBase,
    hostRef,
    cluster,
    certificate: tls.cert,
    lifecycle: {
      // After pool.restore_database: this host is the restored pool's master, in-process.
      becomeRestoredMaster: async (ref, awaitingRejoin, minEpoch) => {
        store.putMeta(LOCAL_HOST_KEY, ref);
        (svc as { hostRef: string }).hostRef = ref;
        cluster.becomeRestoredMaster(awaitingRejoin, minEpoch);
        await attach();
        await attachHostStorage(svc, ref);
        await settleAsMaster();
        checkDefaultSr(svc);
      },
    },
  };
  /** A master owns its own records: its address, certificate and domains as they are now. */
  const settleAsMaster = async () => {
    await reconcile(svc, id, info);
    db.transact((tx) => {
      tx.update('host', svc.hostRef, { server_certificate: tls.cert });
      for (const p of db.all('pool').keys()) tx.update('pool', p, { epoch: cluster.currentEpoch });
    });
    // A host disabled with auto_enable=true (the default) comes back enabled, as xapi's does.
    if (store.getMeta(AUTO_ENABLE_KEY) !== 'false')
      db.transact((tx) => tx.update('host', svc.hostRef, { enabled: true }));
  };
  await attach();
  await leases.start();
  cluster.start();
  // A member's database is the master's: only the master writes it.
  if (cluster.isMaster) await settleAsMaster();

  const pipeline = new Pipeline(svc, buildMethods());
  const server = new ApiHttpServer((m, p) => pipeline.call(m, p), log.child({ module: 'rpc' }));
  server.addRoute((req, res) => cluster.route(req, res));
  // A host's backup is taken (and a restore staged) on that host: here, or through its agent.
  const onHost = (host: string, call: string, args: unknown[], here: () => string) =>
    host === svc.hostRef ? Promise.resolve(here()) : remote({ svc }, host)(call, args).then(String);
  server.addRoute(
    dbTransferRoute(() => svc, {
      backup: (host) => onHost(host, 'host.backup', [], () => hostBackupHere()),
      stage: (host, text) => onHost(host, 'host.restore', [text], () => stageHere(text)),
    }),
  );
  server.addRoute(
    // A member sends browsers to its master, unless the master is gone: its own console then
    // offers the emergency transition.
    consoleRoute({
      masterAddress: () => (cluster.isMaster || cluster.inEmergencyMode ? undefined : cluster.masterAddress),
    }),
  );
  const port = await server.listen(opts.address, opts.port, tls);
  const httpPort = opts.httpPort === undefined ? undefined : await server.listen(opts.address, opts.httpPort);
  const backups = new ScheduledBackups(() => svc);
  backups.start();
  const sweeper = setInterval(() => {
    sweepSessions(svc);
    sweepTasks(svc);
  }, opts.sweepIntervalMs ?? limits.sweepIntervalMs);
  sweeper.unref();
  const readyFile = join(opts.dataDir, 'poolstackd.ready');
  writeFileSync(
    readyFile,
    JSON.stringify({ pid: process.pid, port, httpPort, address: opts.address }) + '\n',
  );
  log.info(
    { port, httpPort, address: opts.address, role: cluster.isMaster ? 'master' : 'member' },
    'poolstackd ready',
  );

  let stopped = false;
  return {
    port,
    httpPort,
    get hostRef() {
      return svc.hostRef;
    },
    db,
    cluster,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(sweeper);
      cluster.stop();
      leases.stop();
      backups.stop();
      for (const a of svc.taskAborts.values()) a.abort();
      await server.close();
      await hypervisor.close();
      db.close();
      rmSync(readyFile, { force: true });
      log.info({}, 'poolstackd stopped');
      flush();
    },
  };
}
