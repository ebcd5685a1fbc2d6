// `npm run bench`: measures a real poolstackd process against a bare node:http echo server (also a
// separate process) in the same run, with the same client loop, and prints each figure as a ratio
// to that baseline with its target. Results also go to dist/bench/results.json.
//
// Knobs (environment): BENCH_CONNECTIONS (8), BENCH_WARMUP_MS (500), BENCH_DURATION_MS (3000),
// BENCH_ROUNDS (3), BENCH_EVENT_SAMPLES (500), BENCH_EVENT_INTERVAL_MS (10), BENCH_VMS (10000), BENCH_REPEATS (5),
// BENCH_ONLY (comma list of: throughput,event,bulk; the pool sections commit,lag,join are in
// bench/replication.ts), BENCH_OPS (throughput ops whose name contains
// one of these, e.g. get_record,XML-RPC), BENCH_KEEP=1 keeps the daemon's data dir,
// BENCH_DAEMON=host:port with BENCH_PASSWORD to measure a daemon started by hand (for profiling),
// BENCH_DAEMON_PID=PID for its CPU per call, BENCH_RESULTS=FILE writes the JSON there instead of
// dist/bench/results.json, BENCH_DATA_DIR=DIR puts the daemon's data dir under DIR (e.g. /dev/shm
// to see what the fsyncs cost).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import { envInt, fmt, Report, type ResultRow } from './report.js';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startDaemonProcess, TEST_PASSWORD, type DaemonHandle } from '../src/testing/daemon-process.js';
import {
  makeAgent,
  median,
  percentile,
  post,
  runCount,
  runLoad,
  type LoadResult,
  type Target,
} from './http-load.js';

const here = dirname(fileURLToPath(import.meta.url));

const cfg = {
  connections: envInt('BENCH_CONNECTIONS', 8),
  warmupMs: envInt('BENCH_WARMUP_MS', 500),
  durationMs: envInt('BENCH_DURATION_MS', 3000),
  eventSamples: envInt('BENCH_EVENT_SAMPLES', 500),
  eventIntervalMs: envInt('BENCH_EVENT_INTERVAL_MS', 10),
  vms: envInt('BENCH_VMS', 10_000),
  repeats: Math.max(1, envInt('BENCH_REPEATS', 5)),
  rounds: Math.max(1, envInt('BENCH_ROUNDS', 3)),
  only: new Set((process.env.BENCH_ONLY ?? 'throughput,event,bulk').split(',').map((s) => s.trim())),
};

// ---- the result table ----

const report = new Report('baseline (echo)');
const record = (row: ResultRow) => report.record(row);

// ---- wire helpers (hand-built bodies: no client library in the measured path) ----

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const xmlCall = (method: string, strings: string[]) =>
  `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>` +
  strings.map((s) => `<param><value><string>${esc(s)}</string></value></param>`).join('') +
  '</params></methodCall>';
const jsonCall = (method: string, params: unknown[], id: number | string = 1) =>
  JSON.stringify({ jsonrpc: '2.0', id, method, params });

type Proto = 'json' | 'xml';
const protoPath = (p: Proto) => (p === 'json' ? '/jsonrpc' : '/');
const protoType = (p: Proto) => (p === 'json' ? 'application/json' : 'text/xml');
const protoName = (p: Proto) => (p === 'json' ? 'JSON-RPC' : 'XML-RPC');
/** A substring only a failure reply contains (cheap, and applied to both sides). */
const failureMarker = (p: Proto) => (p === 'json' ? '"error"' : '<name>ErrorDescription</name>');

class Rpc {
  private readonly agent = makeAgent(4);
  constructor(private readonly target: Target) {}

  async json(method: string, params: unknown[]): Promise<unknown> {
    const r = await post(this.agent, this.target, '/jsonrpc', 'application/json', jsonCall(method, params));
    if (r.status !== 200) throw new Error(`${method}: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
    const msg = JSON.parse(r.body) as { result?: unknown; error?: unknown };
    if (msg.error !== undefined && msg.error !== null)
      throw new Error(`${method}: ${JSON.stringify(msg.error)}`);
    return msg.result;
  }

  close(): void {
    this.agent.destroy();
  }
}

// ---- processes ----

async function startEcho(): Promise<{ target: Target; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(here, 'echo-server.js')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error('echo server did not start within 10 s')), 10_000);
    child.once('exit', (code) => reject(new Error(`echo server exited with ${code}`)));
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /listening (\d+)/.exec(buf);
      if (m !== null) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
  });
  return { target: { host: '127.0.0.1', port }, child };
}

interface DaemonUnderTest {
  target: Target;
  password: string;
  pid: number | undefined;
  handle: DaemonHandle | undefined;
}

async function startDaemon(): Promise<DaemonUnderTest> {
  const ext = process.env.BENCH_DAEMON;
  if (ext !== undefined && ext !== '') {
    const [host, port] = ext.split(':');
    const pid = process.env.BENCH_DAEMON_PID;
    return {
      target: { host: host ?? '127.0.0.1', port: Number(port) },
      password: process.env.BENCH_PASSWORD ?? TEST_PASSWORD,
      pid: pid === undefined || pid === '' ? undefined : Number(pid),
      handle: undefined,
    };
  }
  const parent = process.env.BENCH_DATA_DIR;
  const dataDir =
    parent === undefined || parent === ''
      ? undefined
      : join(parent, `poolstack-bench-${process.pid}-${Date.now()}`, 'd');
  if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
  const handle = await startDaemonProcess({
    name: 'bench',
    timeoutMs: 60_000,
    ...(dataDir === undefined ? {} : { dataDir }),
  });
  return {
    target: { host: handle.address, port: handle.httpPort },
    password: TEST_PASSWORD,
    pid: handle.pid,
    handle,
  };
}

// ---- benchmarks ----

const MiB = 1024 * 1024;
function vmRecord(name: string): Record<string, unknown> {
  return {
    name_label: name,
    name_description: 'poolstack benchmark VM',
    memory_static_min: 256 * MiB,
    memory_dynamic_min: 256 * MiB,
    memory_dynamic_max: 512 * MiB,
    memory_static_max: 512 * MiB,
    VCPUs_max: 1,
    VCPUs_at_startup: 1,
  };
}

interface Op {
  metric: string;
  proto: Proto;
  body: (i: number) => string;
  target: string;
  /** Minimum value/baseline ratio to pass; undefined = reported only. */
  minRatio: number | undefined;
}

async function throughput(
  echo: Target,
  echoPid: number | undefined,
  daemon: Target,
  daemonPid: number | undefined,
  session: string,
  vm: string,
): Promise<void> {
  console.log(
    `throughput: ${cfg.connections} keep-alive connections, ${cfg.warmupMs} ms warm-up + ${cfg.durationMs} ms, best of ${cfg.rounds} alternating rounds`,
  );
  const ops: Op[] = [];
  for (const proto of ['json', 'xml'] as const) {
    const getRecord =
      proto === 'json' ? jsonCall('VM.get_record', [session, vm]) : xmlCall('VM.get_record', [session, vm]);
    ops.push({
      metric: `VM.get_record ${protoName(proto)}`,
      proto,
      body: () => getRecord,
      target: 'ratio ≥ 0.70',
      minRatio: 0.7,
    });
  }
  for (const proto of ['json', 'xml'] as const) {
    const body =
      proto === 'json'
        ? (i: number) => jsonCall('VM.set_name_label', [session, vm, `bench-${i % 1000}`])
        : (i: number) => xmlCall('VM.set_name_label', [session, vm, `bench-${i % 1000}`]);
    ops.push({
      metric: `VM.set_name_label ${protoName(proto)}`,
      proto,
      body,
      target: '— (reported)',
      minRatio: undefined,
    });
  }
  const probe = makeAgent(1);
  const opFilter = process.env.BENCH_OPS;
  for (const op of ops) {
    if (
      opFilter !== undefined &&
      opFilter !== '' &&
      !opFilter.split(',').some((f) => op.metric.includes(f.trim()))
    )
      continue;
    // One real call first: it must succeed, and its reply size sizes the echo's reply.
    const first = await post(probe, daemon, protoPath(op.proto), protoType(op.proto), op.body(0));
    if (first.status !== 200 || first.body.includes(failureMarker(op.proto))) {
      throw new Error(`${op.metric} failed: HTTP ${first.status} ${first.body.slice(0, 300)}`);
    }
    const replyBytes = Buffer.byteLength(first.body);
    const common = {
      contentType: protoType(op.proto),
      body: op.body,
      connections: cfg.connections,
      warmupMs: cfg.warmupMs,
      durationMs: cfg.durationMs,
      failureMarker: failureMarker(op.proto),
    };
    // Rounds alternate baseline and daemon (A B B A …) and each side keeps its best round: on a
    // shared 2-core machine outside load only ever slows a round down.
    const bases: LoadResult[] = [];
    const reals: LoadResult[] = [];
    for (let round = 0; round < cfg.rounds; round++) {
      const runBase = async () =>
        bases.push(
          await runLoad({ ...common, target: echo, path: `/size/${replyBytes}`, serverPid: echoPid }),
        );
      const runReal = async () =>
        reals.push(
          await runLoad({ ...common, target: daemon, path: protoPath(op.proto), serverPid: daemonPid }),
        );
      if (round % 2 === 0) {
        await runBase();
        await runReal();
      } else {
        await runReal();
        await runBase();
      }
    }
    const failures = [...bases, ...reals].reduce((n, r) => n + r.failures, 0);
    if (failures > 0) throw new Error(`${op.metric}: ${failures} failed calls`);
    const best = (rs: LoadResult[]) => Math.max(...rs.map((r) => r.callsPerSecond));
    const value = best(reals);
    const baseline = best(bases);
    const ratio = value / baseline;
    const cpuPerCall = (rs: LoadResult[]) => median(rs.map((r) => r.serverCpuUsPerCall));
    const daemonCpu = cpuPerCall(reals);
    const echoCpu = cpuPerCall(bases);
    const clientCpu = median([...reals, ...bases].map((r) => r.clientCpuUsPerCall));
    record({
      metric: `${op.metric} calls/s`,
      unit: 'calls/s',
      value,
      baseline,
      ratio,
      target: op.target,
      verdict: op.minRatio === undefined ? 'info' : ratio >= op.minRatio ? 'PASS' : 'MISS',
      note:
        `reply ${replyBytes} bytes; rounds daemon ${reals.map((r) => r.callsPerSecond.toFixed(0)).join('/')}, echo ${bases.map((r) => r.callsPerSecond.toFixed(0)).join('/')}; ` +
        `CPU per call: daemon ${fmt(daemonCpu)} µs, echo ${fmt(echoCpu)} µs, client ${fmt(clientCpu)} µs`,
      serverCpuUsPerCall: { daemon: daemonCpu, echo: echoCpu, client: clientCpu },
    });
  }
  probe.destroy();
}

/**
 * The disk's own floor for a durable commit: a 4 KiB overwrite plus fsync (the call SQLite makes
 * at each commit in this build, as strace shows), on the filesystem of the daemon's data dir, on
 * the same schedule as the event writes (after idle, as they are).
 */
async function fsyncFloor(dir: string, samples: number, intervalMs: number): Promise<number[]> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `fsync-probe-${process.pid}.bin`);
  const fd = openSync(file, 'w+');
  const lat: number[] = [];
  try {
    // Preallocated and synced first, so each sample overwrites (as SQLite reuses its WAL).
    writeSync(fd, Buffer.alloc(samples * 4096));
    fsyncSync(fd);
    const page = Buffer.alloc(4096, 1);
    for (let i = 0; i < samples; i++) {
      await new Promise((r) => setTimeout(r, intervalMs));
      const t0 = performance.now();
      writeSync(fd, page, 0, page.length, i * 4096);
      fsyncSync(fd);
      lat.push(performance.now() - t0);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  return lat.sort((a, b) => a - b);
}

/**
 * event.from latency. Each sample is one VM.set_name_label; three times are kept per sample:
 * when the write was sent (t0), when its acknowledgement arrived, and when the event.from reply
 * carrying it arrived. The target is judged on the end-to-end figure, event arrival − t0, which
 * includes the write's own durable commit (fsync): that is what a client watching events waits
 * for. The write's round trip and the event's arrival relative to the acknowledgement (negative
 * when the event came first) are reported beside it, with the disk's fsync floor, so a miss can
 * be attributed. Nothing here needs a hook in the daemon.
 */
async function eventLatency(
  echo: Target,
  daemon: Target,
  session: string,
  vm: string,
  dataDir: string,
): Promise<void> {
  console.log(`event.from latency: ${cfg.eventSamples} writes, one every ${cfg.eventIntervalMs} ms`);
  const pollAgent = makeAgent(1);
  const writeAgent = makeAgent(1);
  const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - performance.now())));

  const start0 = (
    await post(
      pollAgent,
      daemon,
      '/jsonrpc',
      'application/json',
      jsonCall('event.from', [session, ['VM'], '', 0.0]),
    )
  ).body;
  let token = (JSON.parse(start0) as { result: { token: string } }).result.token;
  const sentAt = new Map<number, number>();
  const ackedAt = new Map<number, number>();
  const arrivedAt = new Map<number, number>();
  let polling = true;
  let polls = 0;
  const poller = (async () => {
    while (polling) {
      let r;
      try {
        r = await post(
          pollAgent,
          daemon,
          '/jsonrpc',
          'application/json',
          jsonCall('event.from', [session, ['VM'], token, 30.0]),
        );
      } catch (e) {
        if (!polling) return;
        throw e;
      }
      const arrival = performance.now();
      polls++;
      const msg = JSON.parse(r.body) as {
        result?: { token: string; events: { snapshot?: { name_label?: string } }[] };
        error?: unknown;
      };
      if (msg.result === undefined) throw new Error(`event.from failed: ${r.body.slice(0, 300)}`);
      token = msg.result.token;
      for (const ev of msg.result.events) {
        const m = /^lat-(\d+)$/.exec(ev.snapshot?.name_label ?? '');
        if (m === null) continue;
        const i = Number(m[1]);
        if (!arrivedAt.has(i)) arrivedAt.set(i, arrival);
      }
    }
  })();
  // Let the first long-poll reach the daemon before writing.
  await new Promise((r) => setTimeout(r, 100));

  let ackBytes = 0;
  let next = performance.now();
  for (let i = 0; i < cfg.eventSamples; i++) {
    await sleepUntil(next);
    const body = jsonCall('VM.set_name_label', [session, vm, `lat-${i}`]);
    const t0 = performance.now();
    sentAt.set(i, t0);
    const r = await post(writeAgent, daemon, '/jsonrpc', 'application/json', body);
    ackedAt.set(i, performance.now());
    ackBytes = Buffer.byteLength(r.body);
    if (r.status !== 200 || r.body.includes('"error"'))
      throw new Error(`VM.set_name_label failed: ${r.body.slice(0, 300)}`);
    next = t0 + cfg.eventIntervalMs;
  }
  const deadline = performance.now() + 2000;
  while (arrivedAt.size < cfg.eventSamples && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 10));
  polling = false;
  pollAgent.destroy();
  writeAgent.destroy();
  await poller.catch(() => undefined);

  const endToEnd: number[] = [];
  const acks: number[] = [];
  const afterAck: number[] = [];
  for (const [i, t0] of sentAt) {
    const ack = ackedAt.get(i);
    if (ack !== undefined) acks.push(ack - t0);
    const a = arrivedAt.get(i);
    if (a === undefined) continue;
    endToEnd.push(a - t0);
    if (ack !== undefined) afterAck.push(a - ack);
  }
  const sort = (xs: number[]) => xs.sort((a, b) => a - b);
  sort(endToEnd);
  sort(acks);
  sort(afterAck);
  const lost = cfg.eventSamples - endToEnd.length;

  // Baseline: the same write body, one at a time on the same schedule, to the echo server — the
  // floor for one request/response hop on this machine.
  const echoAgent = makeAgent(1);
  const rtt: number[] = [];
  next = performance.now();
  for (let i = 0; i < cfg.eventSamples; i++) {
    await sleepUntil(next);
    const body = jsonCall('VM.set_name_label', [session, vm, `lat-${i}`]);
    const t0 = performance.now();
    const r = await post(echoAgent, echo, `/size/${ackBytes}`, 'application/json', body);
    rtt.push(performance.now() - t0);
    if (r.status !== 200) throw new Error('echo failed');
    next = t0 + cfg.eventIntervalMs;
  }
  echoAgent.destroy();
  sort(rtt);
  const disk = await fsyncFloor(dataDir, cfg.eventSamples, cfg.eventIntervalMs);
  const early = afterAck.filter((x) => x < 0).length;

  const note = `${endToEnd.length}/${cfg.eventSamples} events seen, ${polls} polls`;
  for (const p of [50, 99] as const) {
    const v = percentile(endToEnd, p);
    const b = percentile(rtt, p);
    const pass = p === 99 ? v < 5 && lost === 0 : undefined;
    record({
      metric: `event.from end-to-end latency p${p} (write sent → event)`,
      unit: 'ms',
      value: v,
      baseline: b,
      ratio: v / b,
      target: p === 99 ? '< 5 ms' : '— (reported)',
      verdict: pass === undefined ? 'info' : pass ? 'PASS' : 'MISS',
      note,
    });
  }
  for (const p of [50, 99] as const) {
    const v = percentile(acks, p);
    const b = percentile(rtt, p);
    record({
      metric: `VM.set_name_label round trip p${p} (write sent → ack)`,
      unit: 'ms',
      value: v,
      baseline: b,
      ratio: v / b,
      target: '— (reported)',
      verdict: 'info',
    });
  }
  for (const p of [50, 99] as const) {
    record({
      metric: `event arrival − write ack p${p}`,
      unit: 'ms',
      value: percentile(afterAck, p),
      baseline: null,
      ratio: null,
      target: '— (reported)',
      verdict: 'info',
      note: p === 50 ? `${early}/${afterAck.length} events arrived before their write's ack` : undefined,
    });
  }
  for (const p of [50, 99] as const) {
    record({
      metric: `disk floor: 4 KiB write + fsync p${p}`,
      unit: 'ms',
      value: percentile(disk, p),
      baseline: null,
      ratio: null,
      target: '— (reported)',
      verdict: 'info',
      note: p === 50 ? `in ${dataDir}, one every ${cfg.eventIntervalMs} ms` : undefined,
    });
  }
  if (lost > 0) console.log(`  WARNING: ${lost} writes never showed up in event.from`);
}

async function bulk(echo: Target, daemon: Target, rpc: Rpc, session: string): Promise<void> {
  const existing = (await rpc.json('VM.get_all', [session])) as string[];
  const toCreate = Math.max(0, cfg.vms - existing.length);
  console.log(
    `VM.get_all_records: creating ${toCreate} VMs (${existing.length} exist) over ${cfg.connections} connections`,
  );
  const agent = makeAgent(cfg.connections);
  let failed = '';
  const t0 = performance.now();
  await runCount(cfg.connections, toCreate, async (i) => {
    const r = await post(
      agent,
      daemon,
      '/jsonrpc',
      'application/json',
      jsonCall('VM.create', [session, vmRecord(`bulk-${i}`)]),
    );
    if (r.status !== 200 || r.body.includes('"error"')) failed ||= r.body.slice(0, 300);
  });
  const createMs = performance.now() - t0;
  agent.destroy();
  if (failed !== '') throw new Error(`VM.create failed: ${failed}`);
  if (toCreate > 0) {
    record({
      metric: 'VM.create calls/s (setup)',
      unit: 'calls/s',
      value: (toCreate / createMs) * 1000,
      baseline: null,
      ratio: null,
      target: '— (reported)',
      verdict: 'info',
    });
  }

  const one = makeAgent(1);
  for (const proto of ['json', 'xml'] as const) {
    const body =
      proto === 'json' ? jsonCall('VM.get_all_records', [session]) : xmlCall('VM.get_all_records', [session]);
    // The first call is timed apart: it is the one that fills the daemon's per-record encoding
    // cache (records nobody has read since they last changed), the later ones find it warm.
    const firstStart = performance.now();
    const first = await post(one, daemon, protoPath(proto), protoType(proto), body);
    const firstMs = performance.now() - firstStart;
    if (first.status !== 200 || first.body.includes(failureMarker(proto))) {
      throw new Error(`VM.get_all_records ${proto}: ${first.body.slice(0, 300)}`);
    }
    let count: number;
    if (proto === 'json') count = Object.keys((JSON.parse(first.body) as { result: object }).result).length;
    else count = first.body.split('<name>name_label</name>').length - 1;
    if (count < cfg.vms)
      throw new Error(`VM.get_all_records ${proto} returned ${count} VMs, expected ≥ ${cfg.vms}`);
    const bytes = Buffer.byteLength(first.body);
    const times: number[] = [];
    const base: number[] = [];
    for (let k = 0; k < cfg.repeats; k++) {
      let s = performance.now();
      await post(one, echo, `/size/${bytes}`, protoType(proto), body);
      base.push(performance.now() - s);
      s = performance.now();
      const r = await post(one, daemon, protoPath(proto), protoType(proto), body);
      times.push(performance.now() - s);
      if (r.status !== 200) throw new Error(`VM.get_all_records: HTTP ${r.status}`);
    }
    const v = median(times);
    const b = median(base);
    record({
      metric: `VM.get_all_records ${protoName(proto)} (${count} VMs, median of ${cfg.repeats})`,
      unit: 'ms',
      value: v,
      baseline: b,
      ratio: v / b,
      target: '< 300 ms',
      verdict: v < 300 ? 'PASS' : 'MISS',
      note: `reply ${(bytes / MiB).toFixed(1)} MiB; first call ${firstMs.toFixed(0)} ms, then runs ${times.map((x) => x.toFixed(0)).join(', ')} ms`,
    });
  }
  one.destroy();
}

// ---- main ----

async function main(): Promise<void> {
  // BENCH_ONLY may name only the pool sections (bench/replication.ts, run after this file).
  if (!['throughput', 'event', 'bulk'].some((s) => cfg.only.has(s))) return;
  const started = report.started;
  const loadAtStart = report.loadAtStart;
  console.log(
    `poolstack bench — ${started.toISOString()} — node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}`,
  );
  const echo = await startEcho();
  let daemon: DaemonUnderTest | undefined;
  let ok = false;
  try {
    daemon = await startDaemon();
    const rpc = new Rpc(daemon.target);
    const session = (await rpc.json('session.login_with_password', [
      'root',
      daemon.password,
      '1.0',
      'poolstack-bench',
    ])) as string;
    const vm = (await rpc.json('VM.create', [session, vmRecord('bench-vm')])) as string;
    if (cfg.only.has('throughput'))
      await throughput(echo.target, echo.child.pid, daemon.target, daemon.pid, session, vm);
    if (cfg.only.has('event'))
      await eventLatency(
        echo.target,
        daemon.target,
        session,
        vm,
        daemon.handle === undefined ? join(here, '..', '..', 'test-output') : dirname(daemon.handle.dataDir),
      );
    if (cfg.only.has('bulk')) await bulk(echo.target, daemon.target, rpc, session);
    await rpc.json('session.logout', [session]);
    rpc.close();
    ok = true;
  } finally {
    echo.child.kill('SIGTERM');
    if (daemon?.handle !== undefined) {
      await daemon.handle.stop();
      if (ok && process.env.BENCH_KEEP !== '1') {
        daemon.handle.cleanup();
        // Under BENCH_DATA_DIR the data dir sits in a folder of its own, with the password file.
        if (process.env.BENCH_DATA_DIR)
          rmSync(dirname(daemon.handle.dataDir), { recursive: true, force: true });
      } else console.log(`daemon data dir kept: ${daemon.handle.dataDir}`);
    }
  }
  report.finish(process.env.BENCH_RESULTS ?? join(here, 'results.json'), { ...cfg, only: [...cfg.only] });
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
