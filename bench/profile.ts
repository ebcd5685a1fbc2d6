// Profiles the daemon under one benchmark: starts poolstackd by hand under `node --cpu-prof`,
// runs dist/bench/run.js against it (BENCH_DAEMON), stops it, and prints where the daemon's CPU
// time went (self and inclusive, by function). The environment is passed on, so e.g.
//   BENCH_ONLY=throughput BENCH_OPS=get_record node dist/bench/profile.js
// profiles only the VM.get_record runs. `node dist/bench/profile.js --summarize FILE.cpuprofile`
// prints the summary of an existing profile.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  projectRoot,
  TEST_PASSWORD,
  testOutputDir,
  waitFor,
} from '../src/testing/daemon-process.js';

const here = dirname(fileURLToPath(import.meta.url));

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function keyOf(f: CallFrame): string {
  const url = f.url.replace(/^file:\/\//, '').replace(projectRoot + '/', '');
  const name = f.functionName === '' ? '(anonymous)' : f.functionName;
  return url === '' ? name : `${name} ${url}:${f.lineNumber + 1}`;
}

export function summarize(file: string, top = 30): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] ?? 0;
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(id);
    if (node === undefined) continue;
    total += dt;
    const k = keyOf(node.callFrame);
    if (k === '(idle)' || k === '(program)') idle += k === '(idle)' ? dt : 0;
    self.set(k, (self.get(k) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (n === undefined) break;
      const kk = keyOf(n.callFrame);
      if (seen.has(kk)) continue;
      seen.add(kk);
      incl.set(kk, (incl.get(kk) ?? 0) + dt);
    }
  }
  const busy = total - idle;
  const fmt = (m: Map<string, number>, filter: (k: string) => boolean) =>
    [...m]
      .filter(([k]) => filter(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `  ${v.toFixed(0).padStart(7)} ms ${((100 * v) / busy).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  return [
    `profile ${file}: ${total.toFixed(0)} ms sampled, ${idle.toFixed(0)} ms idle, ${busy.toFixed(0)} ms busy (percentages of busy)`,
    'self time:',
    fmt(self, (k) => k !== '(idle)'),
    'inclusive time (poolstack code):',
    fmt(incl, (k) => k.includes(' dist/src/')),
  ].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--summarize') {
    for (const f of args.slice(1)) console.log(summarize(resolve(f)));
    return;
  }
  const dataDir = testOutputDir('bench-profile');
  const profDir = join(dataDir, 'cpuprofile');
  mkdirSync(profDir, { recursive: true });
  const pwFile = join(dataDir, 'root.pw');
  writeFileSync(pwFile, TEST_PASSWORD + '\n', { mode: 0o600 });
  const [port, httpPort] = [await freePort(), await freePort()];
  const daemon = spawn(
    process.execPath,
    [
      '--cpu-prof',
      '--cpu-prof-dir',
      profDir,
      join(projectRoot, 'dist', 'src', 'bin', 'poolstackd.js'),
      '--data-dir',
      join(dataDir, 'd'),
      '--address',
      '127.0.0.1',
      '--port',
      String(port),
      '--http-port',
      String(httpPort),
      '--root-password-file',
      pwFile,
      '--hostname',
      'bench-profile',
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const exited = new Promise<number | null>((r) => daemon.once('exit', r));
  await waitFor('poolstackd ready', 60_000, () =>
    existsSync(join(dataDir, 'd', 'poolstackd.ready')) ? true : undefined,
  );
  const bench = spawn(process.execPath, [join(here, 'run.js')], {
    stdio: 'inherit',
    env: {
      ...process.env,
      BENCH_DAEMON: `127.0.0.1:${httpPort}`,
      BENCH_PASSWORD: TEST_PASSWORD,
      BENCH_RESULTS: join(dataDir, 'results.json'),
      BENCH_DAEMON_PID: String(daemon.pid ?? ''),
    },
  });
  const code = await new Promise<number | null>((r) => bench.once('exit', r));
  daemon.kill('SIGTERM');
  await exited;
  const profiles = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
  for (const f of profiles) console.log(summarize(join(profDir, f)));
  console.log(`profile and data kept in ${dataDir}`);
  if (code !== 0) process.exitCode = 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  });
}
