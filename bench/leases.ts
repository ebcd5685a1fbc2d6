// `npm run bench` (after bench/replication.ts), or `node dist/bench/leases.js`: what disk leases
// cost (docs/storage.md, "Disk leases"), on a 3-host pool of real poolstackd processes on
// 127.0.0.2-4 sharing one port, with a shared file SR in a temp folder under the bench data dir.
// Two measurements, each printed with a ratio to a baseline taken in the same run
// (docs/performance.md, "Disk leases"):
//   cycle    — VM.start_on + VM.hard_shutdown of a VM with one 64 MiB read-write disk on the
//              shared SR (its host takes the lease: read the slots, write its own, read again;
//              and releases it: one write), on a member and on the master: p50/p99 as a ratio to
//              the same cycle of an otherwise identical diskless VM on the same host, cycles of
//              the two (and of a VM whose disk is sharable, so attached without a lease) interleaved.
//              After each start the VM must be Running on the requested host.
//   takeover — a leased VM runs on a member; the member is frozen (SIGSTOP); as soon as
//              VM.power_state_reset stops answering HOST_IS_LIVE, VM.start_on the other member is
//              timed until it returns: a ratio to the lease duration D. The protocol bounds it to
//              [D − time since the freeze, D + D/6]. Also (info) SIGSTOP → running elsewhere. The
//              frozen member is thawed (SIGCONT, in a finally) and must be live again before the
//              next round; a fresh VM each round.
// Results also go to dist/bench/leases-results.json.
//
// Knobs (environment): BENCH_ONLY (comma list; this file runs `leases` and skips when BENCH_ONLY
// is set and does not name it), BENCH_LEASE_CYCLES (40 per VM kind and host), BENCH_LEASE_MS
// (6000: the pools' --lease-duration-ms), BENCH_LEASE_ROUNDS (3 takeovers), BENCH_KEEP=1 (keep data
// dirs), BENCH_DATA_DIR (parent of data dirs and of the shared SR), BENCH_LEASE_RESULTS=FILE.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from '../src/testing/daemon-process.js';
import { makeVmWithDisk, vmFields } from '../src/testing/records.js';
import { percentile } from './http-load.js';
import {
  GenReader,
  joinPool,
  nowMs,
  RpcError,
  sleep,
  startHosts,
  stopHosts,
  until,
  type PoolHost,
} from './pool-harness.js';
import { envInt, fmt, onlySections, Report, type ResultRow } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));

const SECTIONS = ['leases'];
const cfg = {
  cycles: Math.max(2, envInt('BENCH_LEASE_CYCLES', 40)),
  leaseMs: Math.max(1000, envInt('BENCH_LEASE_MS', 6000)),
  rounds: Math.max(1, envInt('BENCH_LEASE_ROUNDS', 3)),
  deadAfterMs: 2000,
  heartbeatIntervalMs: 300,
  keep: process.env.BENCH_KEEP === '1',
  only: onlySections(SECTIONS),
};

const report = new Report('baseline');
const record = (row: ResultRow) => report.record(row);

/** A call that must answer within `ms` (every wait is bounded). */
async function bounded<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---- the pool and its shared SR ----

interface Pool {
  master: PoolHost;
  members: PoolHost[];
  all: PoolHost[];
  session: string;
  /** host ref by address. */
  hostRef: Map<string, string>;
  srDir: string;
  sr: string;
}

const call = (p: Pool, method: string, params: unknown[], ms = 60_000) =>
  bounded(method, p.master.rpc.call(method, [p.session, ...params]), ms);

async function startPool(srParent: string): Promise<Pool> {
  console.log(
    `pool: 3 hosts on 127.0.0.2-4 sharing one port (--lease-duration-ms ${cfg.leaseMs} ` +
      `--dead-after-ms ${cfg.deadAfterMs} --heartbeat-interval-ms ${cfg.heartbeatIntervalMs}), two joined to the first`,
  );
  const { hosts } = await startHosts('bench-leases', 3, 2, [
    '--lease-duration-ms',
    String(cfg.leaseMs),
    '--dead-after-ms',
    String(cfg.deadAfterMs),
    '--heartbeat-interval-ms',
    String(cfg.heartbeatIntervalMs),
  ]);
  const [master, ...members] = hosts as [PoolHost, ...PoolHost[]];
  try {
    for (const m of members) await joinPool(m, master.address);
    const session = await master.rpc.login();
    // Every member holds the pool's database before anything is measured.
    const masterDb = new GenReader(master.dbFile);
    const memberDbs = members.map((m) => new GenReader(m.dbFile));
    try {
      const target = masterDb.gen();
      if (!(await until(() => memberDbs.every((d) => d.gen() >= target), 60_000, 10)))
        throw new Error(`members did not reach generation ${target} within 60 s`);
    } finally {
      masterDb.close();
      for (const d of memberDbs) d.close();
    }
    const recs = (await bounded(
      'host.get_all_records',
      master.rpc.call('host.get_all_records', [session]),
      30_000,
    )) as Record<string, { address: string }>;
    const hostRef = new Map(Object.entries(recs).map(([ref, r]) => [r.address, ref]));
    if (hostRef.size !== 3 || !hosts.every((h) => hostRef.has(h.address)))
      throw new Error(`the pool's hosts are ${JSON.stringify([...hostRef.keys()])}`);
    const srDir = join(srParent, 'sr');
    const sr = (await bounded(
      'SR.create',
      master.rpc.call('SR.create', [
        session,
        hostRef.get(master.address),
        { location: srDir },
        0,
        'bench shared SR',
        '',
        'file',
        'user',
        true,
        {},
      ]),
      60_000,
    )) as string;
    const p: Pool = { master, members, all: hosts, session, hostRef, srDir, sr };
    const pbds = (await call(p, 'SR.get_PBDs', [sr])) as string[];
    if (pbds.length !== 3) throw new Error(`the shared SR has ${pbds.length} PBDs, not 3`);
    for (const pbd of pbds)
      if ((await call(p, 'PBD.get_currently_attached', [pbd])) !== true)
        throw new Error(`PBD ${pbd} is not attached`);
    return p;
  } catch (e) {
    await stopHosts(hosts, true);
    throw e;
  }
}

type Kind = 'diskless' | 'leased' | 'sharable';

/** A VM with no disk, or one 64 MiB RW disk on the shared SR (sharable: attached without a lease). */
async function makeVm(p: Pool, name: string, kind: Kind): Promise<{ vm: string; vdi?: string }> {
  if (kind === 'diskless') return { vm: (await call(p, 'VM.create', [vmFields(name)])) as string };
  const api = { callSession: (method: string, ...params: unknown[]) => call(p, method, params) };
  const { vm, vdi } = await makeVmWithDisk(api, name, p.sr, { sharable: kind === 'sharable' });
  return { vm, vdi };
}

async function expectState(p: Pool, vm: string, state: string, host?: string): Promise<void> {
  const [ps, at] = await Promise.all([
    call(p, 'VM.get_power_state', [vm]),
    call(p, 'VM.get_resident_on', [vm]),
  ]);
  if (ps !== state || (host !== undefined && at !== host))
    throw new Error(
      `VM ${vm} is ${String(ps)} on ${String(at)}, expected ${state}${host ? ` on ${host}` : ''}`,
    );
}

// ---- 1. start/stop cycles: leased disk vs diskless (and sharable disk) on one host ----

interface Cycle {
  start: number;
  stop: number;
}

async function cycle(p: Pool, vm: string, host: string): Promise<Cycle> {
  const t0 = nowMs();
  await call(p, 'VM.start_on', [vm, host, false, false]);
  const t1 = nowMs();
  await expectState(p, vm, 'Running', host); // not timed: a refused start would not get here
  const t2 = nowMs();
  await call(p, 'VM.hard_shutdown', [vm]);
  const t3 = nowMs();
  await expectState(p, vm, 'Halted');
  return { start: t1 - t0, stop: t3 - t2 };
}

async function cycles(p: Pool, h: PoolHost, role: string): Promise<void> {
  const host = p.hostRef.get(h.address) ?? '';
  const kinds: Kind[] = ['diskless', 'leased', 'sharable'];
  const vms = new Map<Kind, string>();
  for (const k of kinds) vms.set(k, (await makeVm(p, `cycle-${role}-${k}`, k)).vm);
  console.log(
    `cycles on the ${role} (${h.address}): ${cfg.cycles} × VM.start_on + VM.hard_shutdown per VM kind ` +
      `(${kinds.join(', ')}), interleaved, order rotated every cycle, after 3 warm-up cycles each`,
  );
  const out = new Map<Kind, Cycle[]>(kinds.map((k) => [k, []]));
  for (let i = -3; i < cfg.cycles; i++) {
    const order = kinds.map((_, j) => kinds[(i + 3 + j) % kinds.length] as Kind);
    for (const k of order) {
      const c = await cycle(p, vms.get(k) ?? '', host);
      if (i >= 0) out.get(k)?.push(c);
    }
  }
  const stat = (k: Kind, f: (c: Cycle) => number, q: number) =>
    percentile(
      (out.get(k) ?? []).map(f).sort((a, b) => a - b),
      q,
    );
  const total = (c: Cycle) => c.start + c.stop;
  for (const q of [50, 99]) {
    const base = stat('diskless', total, q);
    const leased = stat('leased', total, q);
    record({
      metric: `start_on + hard_shutdown, leased 64 MiB disk, on the ${role}: p${q}`,
      unit: 'ms',
      value: leased,
      baseline: base,
      baselineName: 'diskless VM',
      ratio: leased / base,
      target: q === 50 ? 'ratio ≤ 1.5' : '— (reported)',
      verdict: q === 50 ? (leased / base <= 1.5 ? 'PASS' : 'MISS') : 'info',
      note:
        `start p${q} ${fmt(stat('leased', (c) => c.start, q))} ms vs ${fmt(stat('diskless', (c) => c.start, q))}; ` +
        `shutdown p${q} ${fmt(stat('leased', (c) => c.stop, q))} ms vs ${fmt(stat('diskless', (c) => c.stop, q))}`,
    });
    const sharable = stat('sharable', total, q);
    record({
      metric: `start_on + hard_shutdown, sharable 64 MiB disk (no lease), on the ${role}: p${q}`,
      unit: 'ms',
      value: sharable,
      baseline: base,
      baselineName: 'diskless VM',
      ratio: sharable / base,
      target: '— (reported)',
      verdict: 'info',
      note: `the lease's own share: leased − sharable = ${fmt(leased - sharable)} ms`,
    });
  }
}

// ---- 2. takeover after a host freezes ----

function isHostIsLive(e: unknown): boolean {
  return e instanceof RpcError && JSON.stringify(e.error).includes('HOST_IS_LIVE');
}

async function hostLive(p: Pool, host: string): Promise<boolean> {
  const metrics = (await call(p, 'host.get_metrics', [host])) as string;
  return (await call(p, 'host_metrics.get_live', [metrics])) === true;
}

async function takeover(p: Pool): Promise<void> {
  const [frozen, other] = p.members as [PoolHost, PoolHost];
  const frozenRef = p.hostRef.get(frozen.address) ?? '';
  const otherRef = p.hostRef.get(other.address) ?? '';
  const frozenUuid = (await call(p, 'host.get_uuid', [frozenRef])) as string;
  const D = cfg.leaseMs;
  console.log(
    `takeover: ${cfg.rounds} rounds — a leased VM on ${frozen.address}, SIGSTOP it, VM.power_state_reset ` +
      `until it stops answering HOST_IS_LIVE, then VM.start_on ${other.address} (D = ${D} ms)`,
  );
  const total: number[] = [];
  /** SIGCONT → the thawed host accepts a start again, per round after the first. */
  const backInService: number[] = [];
  let thawedAt: number | undefined;
  for (let r = 0; r < cfg.rounds; r++) {
    const { vm, vdi } = await makeVm(p, `takeover-${r}`, 'leased');
    const vdiUuid = (await call(p, 'VDI.get_uuid', [vdi])) as string;
    // After a thaw the host's metrics say live a little before the master has its connection
    // back, and placement wants both: HOST_NOT_LIVE until then (retried, bounded, not timed).
    const accepted = await until(
      async () => {
        try {
          await call(p, 'VM.start_on', [vm, frozenRef, false, false]);
          return true;
        } catch (e) {
          if (e instanceof RpcError && JSON.stringify(e.error).includes('HOST_NOT_LIVE')) return false;
          throw e;
        }
      },
      30_000,
      100,
    );
    if (!accepted) throw new Error(`${frozen.address} refused starts (HOST_NOT_LIVE) for 30 s`);
    if (thawedAt !== undefined) backInService.push(nowMs() - thawedAt);
    await expectState(p, vm, 'Running', frozenRef);
    // Let it renew its lease once, as a running VM does, before the freeze.
    await sleep(D / 6 + 200);
    let tStop = 0;
    let tReset = 0;
    let tStarted = 0;
    let lastWrite = Number.NaN;
    let tThawed = 0;
    process.kill(frozen.handle.pid, 'SIGSTOP');
    try {
      tStop = nowMs();
      const found = await until(
        async () => {
          try {
            await call(p, 'VM.power_state_reset', [vm], 10_000);
            return true;
          } catch (e) {
            if (isHostIsLive(e)) return false;
            throw e;
          }
        },
        cfg.deadAfterMs * 10 + 20_000,
        25,
      );
      if (!found)
        throw new Error('the frozen host was never found dead (power_state_reset said HOST_IS_LIVE)');
      tReset = nowMs();
      await call(p, 'VM.start_on', [vm, otherRef, false, false], 2 * D + 30_000);
      tStarted = nowMs();
      await expectState(p, vm, 'Running', otherRef);
      // The frozen host's slot as it left it (its clock is this machine's; it cannot have changed).
      const slot = join(p.srDir, '.leases', vdiUuid, frozenUuid.toLowerCase());
      lastWrite = (JSON.parse(readFileSync(slot, 'utf8')) as { writtenAt: number }).writtenAt;
    } finally {
      process.kill(frozen.handle.pid, 'SIGCONT');
      tThawed = nowMs();
    }
    const wait = tStarted - tReset;
    const sinceFreeze = tReset - tStop;
    const lo = D - sinceFreeze;
    const hi = D + D / 6;
    total.push(tStarted - tStop);
    record({
      metric: `takeover round ${r + 1}: VM.start_on the other member after the reset`,
      unit: 'ms',
      value: wait,
      baseline: D,
      baselineName: 'lease duration D',
      ratio: wait / D,
      target: `[D − ${fmt(sinceFreeze)}, D + D/6] = [${fmt(lo)}, ${fmt(hi)}]`,
      verdict: wait >= lo && wait <= hi ? 'PASS' : 'MISS',
      note:
        `SIGSTOP → reset accepted ${fmt(sinceFreeze)} ms; SIGSTOP → running elsewhere ${fmt(tStarted - tStop)} ms; ` +
        `frozen host's last slot write → running elsewhere ${fmt(tStarted - lastWrite)} ms`,
    });
    // Thawed: it finds its lease gone; it must be live again before the next round.
    thawedAt = tThawed;
    if (!(await until(() => hostLive(p, frozenRef), 30_000, 100)))
      throw new Error(`${frozen.address} was not live again within 30 s of SIGCONT`);
    await call(p, 'VM.hard_shutdown', [vm]);
  }
  const mean = total.reduce((a, b) => a + b, 0) / total.length;
  record({
    metric: `SIGSTOP → VM running on another host (mean of ${total.length})`,
    unit: 'ms',
    value: mean,
    baseline: D,
    baselineName: 'lease duration D',
    ratio: mean / D,
    target: '— (reported)',
    verdict: 'info',
    note:
      `each: ${total.map((t) => fmt(t)).join(', ')} ms; detection (dead-after ${cfg.deadAfterMs} ms) + lease; ` +
      `SIGCONT → the thawed host accepted a start again: ${backInService.map((t) => fmt(t)).join(', ') || '—'} ms`,
  });
}

// ---- main ----

async function main(): Promise<void> {
  if (cfg.only.size === 0) return;
  const load = report.loadAtStart;
  console.log(
    `poolstack lease bench — ${report.started.toISOString()} — node ${process.version}, ${os.cpus().length} CPUs, load average ${load.map((x) => x.toFixed(2)).join(' ')}`,
  );
  const dataParent = process.env.BENCH_DATA_DIR || join(projectRoot, 'test-output');
  mkdirSync(dataParent, { recursive: true });
  const srParent = mkdtempSync(join(dataParent, `poolstack-bench-leases-sr-${process.pid}-`));
  let ok = false;
  try {
    const p = await startPool(srParent);
    try {
      await cycles(p, p.members[0] as PoolHost, 'member');
      await cycles(p, p.master, 'master');
      await takeover(p);
      ok = true;
    } finally {
      for (const h of p.all) {
        try {
          process.kill(h.handle.pid, 'SIGCONT');
        } catch {
          // gone already
        }
      }
      await stopHosts(p.all, cfg.keep || !ok);
    }
  } finally {
    if (ok && !cfg.keep) rmSync(srParent, { recursive: true, force: true });
    else console.log(`  shared SR kept: ${srParent}`);
  }
  report.finish(process.env.BENCH_LEASE_RESULTS ?? join(here, 'leases-results.json'), {
    ...cfg,
    only: [...cfg.only],
  });
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
