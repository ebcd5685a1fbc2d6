// The one client every benchmark uses, for the daemon and for the echo baseline alike: raw
// node:http POSTs over a keep-alive Agent, the body read to the end, nothing parsed in the hot loop,
// so the client's own cost is identical on both sides of every ratio.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface Target {
  readonly host: string;
  readonly port: number;
}

export interface Reply {
  readonly status: number;
  readonly body: string;
}

export function makeAgent(maxSockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

/** One POST; resolves with the status and the whole body. */
export function post(
  agent: http.Agent,
  target: Target,
  path: string,
  contentType: string,
  body: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        method: 'POST',
        host: target.host,
        port: target.port,
        path,
        agent,
        headers: { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export interface LoadSpec {
  readonly target: Target;
  readonly path: string;
  readonly contentType: string;
  /** The i-th request body (the same generator is used against the baseline). */
  readonly body: (i: number) => string;
  /** Concurrent keep-alive connections, one request in flight on each. */
  readonly connections: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** A reply that counts as a failure (checked with a cheap substring test on both sides). */
  readonly failureMarker?: string;
  /** The server's pid, to report its CPU time per call (Linux /proc; robust on a shared machine). */
  readonly serverPid?: number | undefined;
}

export interface LoadResult {
  readonly callsPerSecond: number;
  readonly calls: number;
  readonly failures: number;
  readonly durationMs: number;
  /** Server CPU (user+system) per call over the whole run, warm-up included; NaN when unknown. */
  readonly serverCpuUsPerCall: number;
  /** This (client) process's CPU per call over the whole run. */
  readonly clientCpuUsPerCall: number;
}

/** CPU time (user + system) a process has used, in ms; undefined where /proc is not available. */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of proc(5) (utime, stime), counted from `state` (field 3); USER_HZ is 100.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

/**
 * N workers, each on its own keep-alive connection, issue requests back to back for warm-up plus
 * duration; only calls completing inside the measured window are counted.
 */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const agent = makeAgent(spec.connections);
  const t0 = performance.now();
  const windowStart = t0 + spec.warmupMs;
  const windowEnd = windowStart + spec.durationMs;
  let calls = 0;
  let failures = 0;
  let seq = 0;
  let total = 0;
  const cpu0 = processCpuMs(spec.serverPid);
  const client0 = process.cpuUsage();
  const worker = async () => {
    for (;;) {
      const now = performance.now();
      if (now >= windowEnd) return;
      const r = await post(agent, spec.target, spec.path, spec.contentType, spec.body(seq++));
      const done = performance.now();
      total++;
      if (done < windowStart || done > windowEnd) continue;
      if (r.status !== 200 || (spec.failureMarker !== undefined && r.body.includes(spec.failureMarker)))
        failures++;
      else calls++;
    }
  };
  await Promise.all(Array.from({ length: spec.connections }, worker));
  const cpu1 = processCpuMs(spec.serverPid);
  const client = process.cpuUsage(client0);
  agent.destroy();
  const serverCpuUsPerCall =
    cpu0 === undefined || cpu1 === undefined ? Number.NaN : ((cpu1 - cpu0) * 1000) / total;
  return {
    callsPerSecond: (calls / spec.durationMs) * 1000,
    calls,
    failures,
    durationMs: spec.durationMs,
    serverCpuUsPerCall,
    clientCpuUsPerCall: (client.user + client.system) / total,
  };
}

/** Runs `count` jobs over `connections` workers (bulk setup such as creating 10,000 VMs). */
export async function runCount(
  connections: number,
  count: number,
  job: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await job(next++);
  };
  await Promise.all(Array.from({ length: connections }, worker));
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

export function median(xs: readonly number[]): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
}
