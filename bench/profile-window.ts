// Summarises the part of a .cpuprofile between two CLOCK_MONOTONIC times in µs (the clock of the
// profiles' sample timestamps, and of the windows `BENCH_JOIN_PROFILE=1` prints):
//   node dist/bench/profile-window.js FILE.cpuprofile FROM_US TO_US [TOP]
// Prints busy and idle time in the window, then self and inclusive time by function.
import { readFileSync } from 'node:fs';

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
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

function keyOf(f: CallFrame): string {
  const url = f.url.replace(/^file:\/\//, '').replace(`${process.cwd()}/`, '');
  return `${f.functionName === '' ? '(anonymous)' : f.functionName}${url === '' ? '' : ` ${url}:${f.lineNumber + 1}`}`;
}

function main(): void {
  const [file, fromArg, toArg, topArg] = process.argv.slice(2);
  if (file === undefined || fromArg === undefined || toArg === undefined)
    throw new Error('usage: node dist/bench/profile-window.js FILE.cpuprofile FROM_US TO_US [TOP]');
  const [from, to, top] = [Number(fromArg), Number(toArg), Number(topArg ?? 25)];
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let t = p.startTime;
  let total = 0;
  let idle = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (t < from || t > to) continue;
    // A sample stands for the time until the next one.
    const ms = (p.timeDeltas[i + 1] ?? 1000) / 1000;
    const node = byId.get(p.samples[i] ?? -1);
    if (node === undefined) continue;
    total += ms;
    if (node.callFrame.functionName === '(idle)') {
      idle += ms;
      continue;
    }
    const k = keyOf(node.callFrame);
    self.set(k, (self.get(k) ?? 0) + ms);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id);
      if (n === undefined) break;
      const kk = keyOf(n.callFrame);
      if (seen.has(kk)) continue;
      seen.add(kk);
      incl.set(kk, (incl.get(kk) ?? 0) + ms);
    }
  }
  const show = (m: Map<string, number>, keep: (k: string) => boolean) =>
    [...m]
      .filter(([k]) => keep(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `  ${v.toFixed(0).padStart(7)} ms  ${k}`)
      .join('\n');
  console.log(
    `${file}: window ${((to - from) / 1000).toFixed(0)} ms, sampled ${total.toFixed(0)} ms, idle ${idle.toFixed(0)} ms, busy ${(total - idle).toFixed(0)} ms`,
  );
  console.log(`self time:\n${show(self, () => true)}`);
  console.log(`inclusive time (poolstack code):\n${show(incl, (k) => k.includes('dist/src/'))}`);
}

main();
