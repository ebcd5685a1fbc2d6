// `npm run bench` (after bench/leases.ts), or `node dist/bench/dump.js`: the pool database dump
// and restore (xe pool-dump-database / pool-restore-database, docs/recovery.md) with a large pool
// database, each figure printed with a ratio to a baseline taken in the same run
// (docs/performance.md, "Pool database dump and restore"):
//   seed    — one poolstackd starts once (its first start makes its data dir) and is stopped; its
//             state.db is then filled in-process with the project's own Db (checkRows, then
//             restoreAll in one transaction): BENCH_DUMP_HOSTS - 1 more hosts (host_metrics,
//             a local SR with its PBD, a PIF on the pool's network) and BENCH_DUMP_VMS VMs, each
//             with its VM_metrics, one VDI on its host's local SR, one VBD and one VIF, spread over
//             the hosts, one in ten Running (on the hosts other than the master, which has no
//             domains for them) and the rest Halted. Then the daemon starts again on that data dir.
//   dump    — GET /pool/xmldbdump from the request until the last byte is written to a file;
//             baseline: VM.get_all_records on the same daemon, the first (cold) call after the
//             restart (warm calls shown in the note). Peak RSS of the daemon during the dump.
//   restore — a second, fresh daemon (another loopback address, the same port): PUT
//             /pool/xmldbdump with the file as body, dry run and then for real, each timed until
//             the whole response is read; checked afterwards (pool uuid, VM count, this host is
//             master). Baseline: parseDump of the same file in this process (reading and checking
//             it, no database). Peak RSS of the restoring daemon.
// Peak RSS is VmRSS sampled every 50 ms from /proc/PID/status during the call, and the
// process-lifetime VmHWM read before and after it (a VmHWM that did not move means the call did
// not raise the peak). Results also go to dist/bench/dump-results.json.
//
// Knobs (environment): BENCH_ONLY (comma list; this file runs `dump` and skips when it is set
// and does not name it), BENCH_DUMP_HOSTS (64), BENCH_DUMP_VMS (64000), BENCH_DUMP_WAIT_MS
// (180000: bound of each daemon start and each transfer), BENCH_DUMP_PROFILE=1 (the daemons run under the inspector's profiler, see
// cpu-profile-preload.ts; profiles in test-output/bench-dump-cpuprofile-PID/, summarised with
// profile-window.ts for the windows printed), BENCH_KEEP=1 (keep data dirs and the dump file),
// BENCH_DATA_DIR (parent of data dirs), BENCH_DUMP_RESULTS=FILE (where the JSON goes).
import { randomBytes, randomUUID } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  createWriteStream,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDateTime } from '../src/base/clock.js';
import { systemClock } from '../src/api/system.js';
import { DUMP_PATH } from '../src/api/db-transfer.js';
import { Db } from '../src/db/db.js';
import { parseDump, type DumpHeader } from '../src/db/dump.js';
import { SqliteStore } from '../src/db/sqlite-store.js';
import type { ClassDef } from '../src/model/define.js';
import { classes } from '../src/model/index.js';
import { SCHEMA_VERSION } from '../src/model/schema.js';
import { withDefaults } from '../src/model/derive/values.js';
import { NULL_REF } from '../src/model/types.js';
import { XapiClient } from '../src/rpc/client.js';
import {
  freePort,
  startDaemonProcess,
  TEST_PASSWORD,
  type DaemonHandle,
} from '../src/testing/daemon-process.js';
import { envInt, fmt, onlySections, Report, type ResultRow } from './report.js';
import { nowMs, sleep } from './pool-harness.js';

const here = dirname(fileURLToPath(import.meta.url));

const SECTIONS = ['dump'];
const cfg = {
  hosts: Math.max(1, envInt('BENCH_DUMP_HOSTS', 64)),
  vms: envInt('BENCH_DUMP_VMS', 64_000),
  waitMs: envInt('BENCH_DUMP_WAIT_MS', 180_000),
  profile: process.env.BENCH_DUMP_PROFILE === '1',
  keep: process.env.BENCH_KEEP === '1',
  only: onlySections(SECTIONS),
};

const report = new Report('baseline');
const record = (row: ResultRow) => report.record(row);

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

// ---- memory of a daemon, from /proc ----

function procStatusKb(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? NaN : Number(m[1]);
  } catch {
    return NaN;
  }
}

/** Samples a process's VmRSS every 50 ms until stopped; VmHWM before and after. */
class RssWatch {
  private maxKb = 0;
  private samples = 0;
  private readonly timer: NodeJS.Timeout;
  readonly hwmBeforeKb: number;
  readonly rssBeforeKb: number;
  constructor(private readonly pid: number) {
    this.hwmBeforeKb = procStatusKb(pid, 'VmHWM');
    this.rssBeforeKb = procStatusKb(pid, 'VmRSS');
    this.maxKb = this.rssBeforeKb;
    this.timer = setInterval(() => {
      const kb = procStatusKb(pid, 'VmRSS');
      this.samples++;
      if (kb > this.maxKb) this.maxKb = kb;
    }, 50);
  }
  stop(): { peakMiB: number; beforeMiB: number; hwmBeforeMiB: number; hwmAfterMiB: number; samples: number } {
    clearInterval(this.timer);
    const kb = procStatusKb(this.pid, 'VmRSS');
    if (kb > this.maxKb) this.maxKb = kb;
    return {
      peakMiB: this.maxKb / 1024,
      beforeMiB: this.rssBeforeKb / 1024,
      hwmBeforeMiB: this.hwmBeforeKb / 1024,
      hwmAfterMiB: procStatusKb(this.pid, 'VmHWM') / 1024,
      samples: this.samples,
    };
  }
}

// ---- bounded waits ----

async function bounded<T>(what: string, ms: number, p: Promise<T>, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`${what}: no result within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One JSON-RPC call over plain HTTP, the reply read to its end and only counted (not parsed). */
function rawCall(
  agent: http.Agent,
  h: DaemonHandle,
  method: string,
  params: unknown[],
): Promise<{ ms: number; bytes: number }> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params });
  const t0 = nowMs();
  const done = new Promise<{ ms: number; bytes: number }>((resolve, reject) => {
    const req = http.request(
      {
        method: 'POST',
        host: h.address,
        port: h.httpPort,
        path: '/jsonrpc',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        let bytes = 0;
        let head = '';
        res.on('data', (c: Buffer) => {
          if (head.length < 200) head += c.toString('utf8', 0, Math.min(c.length, 200));
          bytes += c.length;
        });
        res.on('error', reject);
        res.on('end', () => {
          if (res.statusCode !== 200 || /^\{[^{]*"error":\s*[[{]/.test(head))
            reject(new Error(`${method}: HTTP ${res.statusCode ?? '?'}: ${head.slice(0, 200)}`));
          else resolve({ ms: nowMs() - t0, bytes });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  return bounded(method, cfg.waitMs, done, () => agent.destroy());
}

// ---- data dirs ----

function dataDirFor(name: string): string | undefined {
  const parent = process.env.BENCH_DATA_DIR;
  if (parent === undefined || parent === '') return undefined;
  const dir = join(parent, `poolstack-bench-${name}-${process.pid}-${Date.now()}`, 'd');
  mkdirSync(dir, { recursive: true });
  return dir;
}

function removeDataDir(h: DaemonHandle): void {
  h.cleanup();
  if (process.env.BENCH_DATA_DIR) rmSync(dirname(h.dataDir), { recursive: true, force: true });
}

// ---- seeding the database in-process ----

const newRef = () => `OpaqueRef:${randomUUID()}`;
const mac = () =>
  Array.from(randomBytes(6), (b, i) => (i === 0 ? (b & 0xfc) | 0x02 : b).toString(16).padStart(2, '0')).join(
    ':',
  );

interface Seeded {
  rows: number;
  running: number;
  ms: number;
}

type Body = Record<string, unknown>;

/**
 * Fills a stopped daemon's state.db with the project's own Db: every row (the fresh ones and the
 * new ones, each completed with its class's defaults and cut to its persistent fields, the child
 * lists filled in as Db derives them) checked with Db.checkRows and written with Db.restoreAll in
 * one transaction. (Creating the rows with Db.transact, a few thousand per transaction, was tried
 * first: each tx.create re-filters its parent's child list, so 64,000 VIFs on one network are
 * quadratic, and after 3 minutes it had not finished.) Fake hosts get addresses 127.0.203.x on
 * which nothing listens: the master's probes of absent hosts are refused at once.
 */
function seed(dbFile: string, dataDir: string): Seeded {
  const t0 = nowMs();
  const defs = classes as Record<string, ClassDef>;
  const db = new Db(new SqliteStore(dbFile), classes, systemClock);
  try {
    const gen = db.generation + 1;
    const rows = new Map<string, { cls: string; ref: string; ctime: number; mtime: number; body: Body }>();
    const before = new Map<string, string>();
    for (const r of db.dumpRows().rows) {
      rows.set(r.ref, {
        cls: r.cls,
        ref: r.ref,
        ctime: r.ctime,
        mtime: r.mtime,
        body: JSON.parse(r.text) as Body,
      });
      before.set(r.ref, r.text);
    }
    const one = (cls: string): [string, Body] => {
      const found = [...rows.values()].filter((r) => r.cls === cls);
      const [r] = found;
      if (r === undefined || found.length !== 1)
        throw new Error(`the fresh database holds ${found.length} ${cls} records, not 1`);
      return [r.ref, r.body];
    };
    const add = (cls: string, ref: string, given: Body) => {
      const def = defs[cls] as ClassDef;
      const full = withDefaults(def, given);
      const body: Body = {};
      for (const [k, f] of Object.entries(def.fields)) if (f.persist) body[k] = full[k];
      rows.set(ref, { cls, ref, ctime: gen, mtime: gen, body });
    };
    const [masterRef, master] = one('host');
    const [, metrics] = one('host_metrics');
    const [masterSr, localSr] = one('SR');
    const [, pbd] = one('PBD');
    const [network] = one('network');
    const [, pif] = one('PIF');
    const hostRefs = [masterRef];
    const srRefs = [masterSr];
    const stamp = formatDateTime(Date.now());
    for (let i = 1; i < cfg.hosts; i++) {
      const name = `bench-host-${i}`;
      const address = `127.0.${203 + Math.floor(i / 250)}.${1 + (i % 250)}`;
      const ref = newRef();
      const metricsRef = newRef();
      const srRef = newRef();
      add('host_metrics', metricsRef, { ...metrics, uuid: randomUUID(), live: false });
      add('host', ref, {
        ...master,
        uuid: randomUUID(),
        name_label: name,
        hostname: name,
        address,
        metrics: metricsRef,
        epoch_slot: i,
      });
      add('SR', srRef, { ...localSr, uuid: randomUUID(), name_description: `Local directory SR on ${name}` });
      add('PBD', newRef(), {
        ...pbd,
        uuid: randomUUID(),
        host: ref,
        SR: srRef,
        device_config: { path: join(dataDir, 'sr', `absent-${name}`) },
      });
      add('PIF', newRef(), { ...pif, uuid: randomUUID(), host: ref, MAC: mac(), IP: address });
      hostRefs.push(ref);
      srRefs.push(srRef);
    }
    let running = 0;
    for (let j = 0; j < cfg.vms; j++) {
      const h = j % cfg.hosts;
      const host = hostRefs[h] ?? masterRef;
      const isRunning = h !== 0 && j % 10 === 1;
      if (isRunning) running++;
      const vm = newRef();
      const vmMetrics = newRef();
      const vdi = newRef();
      add('VM_metrics', vmMetrics, {
        uuid: randomUUID(),
        memory_actual: isRunning ? 512 * MiB : 0,
        VCPUs_number: isRunning ? 1 : 0,
        start_time: stamp,
        install_time: stamp,
        last_updated: stamp,
      });
      add('VM', vm, {
        uuid: randomUUID(),
        name_label: `bench-vm-${j}`,
        name_description: 'poolstack dump benchmark VM',
        power_state: isRunning ? 'Running' : 'Halted',
        user_version: 1,
        resident_on: isRunning ? host : NULL_REF,
        affinity: host,
        memory_target: 512 * MiB,
        memory_static_min: 256 * MiB,
        memory_dynamic_min: 256 * MiB,
        memory_dynamic_max: 512 * MiB,
        memory_static_max: 512 * MiB,
        VCPUs_max: 1,
        VCPUs_at_startup: 1,
        HVM_boot_policy: 'BIOS order',
        HVM_boot_params: { order: 'cd' },
        platform: { acpi: '1', apic: 'true', pae: 'true', viridian: 'false', nx: 'true' },
        other_config: { base_template_name: 'Other install media', 'install-methods': 'cdrom' },
        metrics: vmMetrics,
        guest_metrics: NULL_REF,
        domid: isRunning ? 1 + Math.floor(j / cfg.hosts) : -1,
        domain_type: 'hvm',
      });
      add('VDI', vdi, {
        uuid: randomUUID(),
        name_label: `bench-vm-${j} disk`,
        name_description: 'Created by the dump benchmark',
        SR: srRefs[h] ?? masterSr,
        virtual_size: 10 * GiB,
        physical_utilisation: 2 * GiB,
        type: 'user',
        sharable: false,
        read_only: false,
        location: randomUUID(),
        other_config: {},
      });
      add('VBD', newRef(), {
        uuid: randomUUID(),
        VM: vm,
        VDI: vdi,
        userdevice: '0',
        device: isRunning ? 'xvda' : '',
        bootable: true,
        mode: 'RW',
        type: 'Disk',
        empty: false,
        currently_attached: isRunning,
        other_config: {},
      });
      add('VIF', newRef(), {
        uuid: randomUUID(),
        VM: vm,
        network,
        device: '0',
        MAC: mac(),
        MTU: 1500,
        currently_attached: isRunning,
        other_config: {},
        locking_mode: 'network_default',
      });
    }
    // The child lists (host.resident_VMs, network.VIFs, SR.VDIs, VM.VBDs, …) as Db derives them
    // at load, so the stored texts a dump sends hold them too.
    const inverses: { cls: string; field: string; parentCls: string; parentField: string }[] = [];
    for (const [cls, def] of Object.entries(defs))
      for (const [field, f] of Object.entries(def.fields))
        if (
          f.inverse !== undefined &&
          f.ty.kind === 'ref' &&
          defs[f.ty.cls]?.fields[f.inverse]?.persist === true
        )
          inverses.push({ cls, field, parentCls: f.ty.cls, parentField: f.inverse });
    for (const inv of inverses)
      for (const r of rows.values()) if (r.cls === inv.parentCls) r.body[inv.parentField] = [];
    for (const inv of inverses)
      for (const r of rows.values()) {
        if (r.cls !== inv.cls) continue;
        const parent = rows.get(r.body[inv.field] as string);
        if (parent?.cls === inv.parentCls) (parent.body[inv.parentField] as string[]).push(r.ref);
      }
    const stored = [...rows.values()].map((r) => {
      const text = JSON.stringify(r.body);
      return { ...r, mtime: before.get(r.ref) === text ? r.mtime : gen, text };
    });
    const bad = db.checkRows(stored);
    if (bad !== undefined) throw new Error(`the seeded rows do not pass Db.checkRows: ${bad}`);
    db.restoreAll(gen, stored);
    return { rows: stored.length, running, ms: nowMs() - t0 };
  } finally {
    db.close();
  }
}

// ---- profiling (BENCH_DUMP_PROFILE=1) ----

const profDir = join(here, '..', '..', 'test-output', `bench-dump-cpuprofile-${process.pid}`);
/** CLOCK_MONOTONIC in µs: the clock of the CPU profiles' timestamps. */
const monoUs = () => Number(process.hrtime.bigint() / 1000n);

async function startDaemon(opts: Parameters<typeof startDaemonProcess>[0]): Promise<DaemonHandle> {
  if (!cfg.profile) return startDaemonProcess(opts);
  const saved = process.env.NODE_OPTIONS;
  mkdirSync(profDir, { recursive: true });
  process.env.POOLSTACK_BENCH_PROFILE_DIR = profDir;
  process.env.NODE_OPTIONS = `${saved ?? ''} --import=${join(here, 'cpu-profile-preload.js')}`.trim();
  try {
    return await startDaemonProcess(opts);
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
    delete process.env.POOLSTACK_BENCH_PROFILE_DIR;
  }
}

function window(what: string, pid: number, fromUs: number): void {
  if (cfg.profile)
    console.log(`  profile window ${what}: ${profDir}/${pid}.cpuprofile ${fromUs} ${monoUs()}`);
}

// ---- the measurements ----

async function login(h: DaemonHandle): Promise<XapiClient> {
  const c = new XapiClient(h.httpUrl, { timeoutMs: cfg.waitMs });
  await c.login('root', TEST_PASSWORD);
  return c;
}

/** GET the dump into `file`: ms until the last byte is written. */
async function dumpTo(c: XapiClient, session: string, file: string): Promise<number> {
  const t0 = nowMs();
  const run = (async () => {
    const res = await c.transfer('GET', DUMP_PATH, { session_id: session });
    const out = createWriteStream(file);
    await new Promise<void>((resolve, reject) => {
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('the dump response was aborted')));
      out.on('error', reject);
      out.on('finish', resolve);
      res.pipe(out);
    });
  })();
  await bounded('GET /pool/xmldbdump', cfg.waitMs, run, () => c.close());
  return nowMs() - t0;
}

/** PUT the dump file; ms until the whole response is read, and its text. */
async function restoreFrom(
  c: XapiClient,
  session: string,
  file: string,
  dry: boolean,
): Promise<{ ms: number; text: string }> {
  const t0 = nowMs();
  const run = (async () => {
    const res = await c.transfer(
      'PUT',
      DUMP_PATH,
      { session_id: session, dry_run: String(dry) },
      createReadStream(file, { highWaterMark: 1024 * 1024 }),
    );
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  })();
  const text = await bounded(`PUT /pool/xmldbdump dry_run=${dry}`, cfg.waitMs, run, () => c.close());
  return { ms: nowMs() - t0, text };
}

/** The dump's first line. */
function readHeader(file: string): DumpHeader {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const text = buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0));
    return JSON.parse(text.slice(0, text.indexOf('\n'))) as DumpHeader;
  } finally {
    closeSync(fd);
  }
}

async function dumpBench(): Promise<void> {
  console.log(
    `dump and restore: a pool database of ${cfg.hosts} hosts and ${cfg.vms} VMs (each with a VBD, a VDI, a VIF and its VM_metrics)`,
  );
  const started: DaemonHandle[] = [];
  let ok = false;
  const port = await freePort('127.0.0.2');
  const daemonOpts = (name: string, address: string) => {
    const dataDir = dataDirFor(name);
    return {
      name,
      address,
      timeoutMs: cfg.waitMs,
      // The helper picks a free port; both hosts share one, as a pool's hosts do (the last --port wins).
      extraArgs: ['--port', String(port)],
      ...(dataDir === undefined ? {} : { dataDir }),
    };
  };
  const dumpFile = join(os.tmpdir(), `poolstack-bench-dump-${process.pid}.ndjson`);
  try {
    // 1. The source daemon's data dir, seeded in-process while it is stopped.
    let a = await startDaemonProcess(daemonOpts('bench-dump-src', '127.0.0.2'));
    started.push(a);
    await a.stop();
    const seeded = seed(join(a.dataDir, 'state.db'), a.dataDir);
    console.log(
      `  seeded ${seeded.rows} rows (${seeded.running} VMs Running on the other hosts) in ${fmt(seeded.ms / 1000)} s`,
    );
    const s0 = nowMs();
    a = await startDaemon({ ...daemonOpts('bench-dump-src', '127.0.0.2'), dataDir: a.dataDir });
    started[0] = a;
    const startMs = nowMs() - s0;
    const idleRssMiB = procStatusKb(a.pid, 'VmRSS') / 1024;
    console.log(
      `  the daemon started on the seeded data dir in ${fmt(startMs)} ms; RSS ${fmt(idleRssMiB)} MiB`,
    );

    // 2. Baseline: VM.get_all_records, cold (first call after the restart), then warm.
    const ca = await login(a);
    const session = ca.session ?? '';
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const gw = new RssWatch(a.pid);
    const cold = await rawCall(agent, a, 'VM.get_all_records', [session]);
    const gwm = gw.stop();
    const warm: number[] = [];
    for (let k = 0; k < 2; k++) warm.push((await rawCall(agent, a, 'VM.get_all_records', [session])).ms);
    agent.destroy();
    console.log(
      `  VM.get_all_records: cold ${fmt(cold.ms)} ms, warm ${warm.map((x) => fmt(x)).join(', ')} ms; reply ${fmt(cold.bytes / MiB)} MiB; ` +
        `daemon peak RSS during the cold call ${fmt(gwm.peakMiB)} MiB`,
    );

    // 3. The dump.
    const dw = new RssWatch(a.pid);
    const d0 = monoUs();
    const dumpMs = await dumpTo(ca, session, dumpFile);
    window('dump', a.pid, d0);
    const dm = dw.stop();
    ca.close();
    const size = statSync(dumpFile).size;
    const header = readHeader(dumpFile);
    record({
      metric: `dump (GET /pool/xmldbdump to a file, ${header.rows} rows)`,
      unit: 'ms',
      value: dumpMs,
      baseline: cold.ms,
      baselineName: 'VM.get_all_records, first call',
      ratio: dumpMs / cold.ms,
      target: '< 3 s',
      verdict: dumpMs < 3000 ? 'PASS' : 'MISS',
      note:
        `${fmt(size / MiB)} MiB, ${fmt(header.rows / (dumpMs / 1000))} rows/s, ${fmt(size / MiB / (dumpMs / 1000))} MiB/s; ` +
        `get_all_records warm ${warm.map((x) => fmt(x)).join('/')} ms, reply ${fmt(cold.bytes / MiB)} MiB`,
    });
    record({
      metric: 'dump size',
      unit: 'MiB',
      value: size / MiB,
      baseline: cold.bytes / MiB,
      baselineName: 'VM.get_all_records reply',
      ratio: size / cold.bytes,
      target: '— (reported)',
      verdict: 'info',
      note: `${header.rows} rows, ${fmt(header.rows / (dumpMs / 1000))} rows/s`,
    });
    record({
      metric: 'dumping daemon peak RSS during the dump',
      unit: 'MiB',
      value: dm.peakMiB,
      baseline: dm.beforeMiB,
      baselineName: 'RSS just before',
      ratio: dm.peakMiB / dm.beforeMiB,
      target: '— (reported)',
      verdict: 'info',
      note:
        `VmRSS sampled every 50 ms (${dm.samples} samples); process-lifetime VmHWM ${fmt(dm.hwmBeforeMiB)} MiB before, ` +
        `${fmt(dm.hwmAfterMiB)} MiB after; after the restart ${fmt(idleRssMiB)} MiB; ` +
        `peak during the cold get_all_records ${fmt(gwm.peakMiB)} MiB`,
    });
    // The source daemon is done: stopped so it does not compete for the CPUs (its data dir stays:
    // the dump's master SR lives there, and the restore plugs it).
    await a.stop();

    // 4. Baseline of the restore: reading and checking the file in this process.
    const p0 = nowMs();
    const parsed = await parseDump(
      createReadStream(dumpFile, { highWaterMark: 1024 * 1024 }),
      SCHEMA_VERSION,
    );
    const parseMs = nowMs() - p0;
    const dumpVms = parsed.rows.filter((r) => r.cls === 'VM').length;
    const userVms = parsed.rows.filter(
      (r) => r.cls === 'VM' && r.body.is_a_template !== true && r.body.is_control_domain !== true,
    ).length;
    const dumpHosts = parsed.rows.filter((r) => r.cls === 'host').length;
    parsed.rows.length = 0;
    console.log(
      `  parseDump in this process: ${fmt(parseMs)} ms (${dumpVms} VM rows, ${userVms} of them VMs)`,
    );

    // 5. The restore, on a fresh daemon.
    const b = await startDaemon(daemonOpts('bench-dump-dst', '127.0.0.3'));
    started.push(b);
    const cb = await login(b);
    const sb = cb.session ?? '';
    const yw = new RssWatch(b.pid);
    const y0 = monoUs();
    const dry = await restoreFrom(cb, sb, dumpFile, true);
    window('dry run', b.pid, y0);
    const ym = yw.stop();
    if (!dry.text.startsWith('Dry-run backup restore successful'))
      throw new Error(`the dry run answered: ${dry.text.slice(0, 300)}`);
    const rw = new RssWatch(b.pid);
    const r0 = monoUs();
    const done = await restoreFrom(cb, sb, dumpFile, false);
    window('restore', b.pid, r0);
    const rm = rw.stop();

    // 6. Did it work?
    const pools = (await cb.callSession('pool.get_all_records')) as Record<
      string,
      { uuid: string; master: string }
    >;
    const pool = Object.values(pools)[0];
    const masterAddress = pool === undefined ? '' : await cb.callSession('host.get_address', pool.master);
    const vmCount = ((await cb.callSession('VM.get_all')) as string[]).length;
    const hostCount = ((await cb.callSession('host.get_all')) as string[]).length;
    const checks = [
      `pool uuid ${pool?.uuid === header.pool ? 'is' : `is NOT (${pool?.uuid})`} the dump's ${header.pool}`,
      `${vmCount} VM records ${vmCount === dumpVms ? '=' : '≠'} the dump's ${dumpVms} (${userVms} VMs besides templates and control domains)`,
      `${hostCount} hosts ${hostCount === dumpHosts ? '=' : '≠'} the dump's ${dumpHosts}`,
      `master ${masterAddress === b.address ? 'is this host' : `is ${String(masterAddress)}, NOT this host`}`,
    ];
    const restoredOk =
      pool?.uuid === header.pool &&
      vmCount === dumpVms &&
      hostCount === dumpHosts &&
      masterAddress === b.address;
    console.log(`  after the restore: ${checks.join('; ')}`);
    cb.close();
    const reset = done.text.split('\n').filter((l) => l.includes(': was Running on')).length;
    record({
      metric: `restore dry run (PUT /pool/xmldbdump?dry_run=true, ${header.rows} rows)`,
      unit: 'ms',
      value: dry.ms,
      baseline: parseMs,
      baselineName: 'parseDump in the bench process',
      ratio: dry.ms / parseMs,
      target: '— (reported)',
      verdict: 'info',
      note: `peak RSS ${fmt(ym.peakMiB)} MiB (from ${fmt(ym.beforeMiB)})`,
    });
    record({
      metric: `restore (PUT /pool/xmldbdump?dry_run=false, ${header.rows} rows)`,
      unit: 'ms',
      value: done.ms,
      baseline: parseMs,
      baselineName: 'parseDump in the bench process',
      ratio: done.ms / parseMs,
      target: '< 10 s',
      verdict: restoredOk && done.ms < 10_000 ? 'PASS' : 'MISS',
      note: `${restoredOk ? 'checked' : 'CHECK FAILED'}: ${checks.join('; ')}; ${reset} VMs reset to Halted`,
    });
    record({
      metric: 'restoring daemon peak RSS during the restore',
      unit: 'MiB',
      value: rm.peakMiB,
      baseline: rm.beforeMiB,
      baselineName: 'RSS just before',
      ratio: rm.peakMiB / rm.beforeMiB,
      target: '— (reported)',
      verdict: 'info',
      note:
        `VmRSS sampled every 50 ms (${rm.samples} samples); process-lifetime VmHWM ${fmt(rm.hwmBeforeMiB)} MiB before ` +
        `(after the dry run), ${fmt(rm.hwmAfterMiB)} MiB after; dry run peak ${fmt(ym.peakMiB)} MiB, VmHWM before it ${fmt(ym.hwmBeforeMiB)} MiB`,
    });
    record({
      metric: 'daemon start on the seeded data dir (to ready)',
      unit: 'ms',
      value: startMs,
      baseline: null,
      ratio: null,
      target: '— (reported)',
      verdict: 'info',
      note: `${seeded.rows} rows; RSS after start ${fmt(idleRssMiB)} MiB`,
    });
    ok = restoredOk;
    if (!restoredOk) console.log(`  the restore's answer began: ${done.text.slice(0, 500)}`);
  } finally {
    const keep = cfg.keep || !ok || cfg.profile;
    await Promise.all(started.map((h) => h.stop()));
    await sleep(0);
    for (const h of started) {
      if (keep) console.log(`  data dir kept: ${h.dataDir}`);
      else removeDataDir(h);
    }
    if (keep) console.log(`  dump kept: ${dumpFile}`);
    else rmSync(dumpFile, { force: true });
  }
}

// ---- main ----

async function main(): Promise<void> {
  if (cfg.only.size === 0) return;
  const load = report.loadAtStart;
  console.log(
    `poolstack dump bench — ${report.started.toISOString()} — node ${process.version}, ${os.cpus().length} CPUs, load average ${load.map((x) => x.toFixed(2)).join(' ')}`,
  );
  await dumpBench();
  report.finish(process.env.BENCH_DUMP_RESULTS ?? join(here, 'dump-results.json'), {
    ...cfg,
    only: [...cfg.only],
  });
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
