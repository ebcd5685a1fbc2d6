// Worker thread for GenPoller (pool-harness.ts): reads meta `applied_gen` from each database file
// (read-only connections) every intervalMs until the flag is set, and posts every change with its
// time. A failed read (a writer mid-recovery) is retried on the next round.
import Database from 'better-sqlite3';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

const { files, intervalMs, flag } = workerData as { files: string[]; intervalMs: number; flag: Int32Array };
const dbs = files.map((f) => new Database(f, { readonly: true, fileMustExist: true }));
const stmts = dbs.map((d) => d.prepare("SELECT value FROM meta WHERE key = 'applied_gen'"));
const last = files.map(() => Number.NaN);
const transitions: [number, number][][] = files.map(() => []);
let rounds = 0;
let busyMs = 0;

function round(): void {
  const start = performance.now();
  for (let i = 0; i < stmts.length; i++) {
    let g: number;
    try {
      const row = stmts[i]?.get() as { value: string } | undefined;
      g = row === undefined ? 0 : Number(row.value);
    } catch {
      continue;
    }
    if (g !== last[i]) {
      last[i] = g;
      transitions[i]?.push([performance.timeOrigin + performance.now(), g]);
    }
  }
  rounds++;
  busyMs += performance.now() - start;
}

round();
parentPort?.postMessage({ t: 'ready' });
while (Atomics.load(flag, 0) === 0) {
  Atomics.wait(flag, 0, 0, intervalMs);
  round();
}
for (const d of dbs) d.close();
parentPort?.postMessage({ t: 'result', transitions, rounds, roundMs: rounds === 0 ? 0 : busyMs / rounds });
