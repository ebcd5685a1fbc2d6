// The result table every benchmark prints and the JSON it writes: one row per metric with its
// value, the baseline measured in the same run, their ratio, the target and the verdict.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';

export type Verdict = 'PASS' | 'MISS' | 'info';

export interface ResultRow {
  metric: string;
  unit: string;
  value: number;
  baseline: number | null;
  /** What the baseline is, when the table does not say it in its header. */
  baselineName?: string | undefined;
  /** value / baseline. */
  ratio: number | null;
  target: string;
  verdict: Verdict;
  note?: string | undefined;
  /** Throughput runs: CPU time per call of the servers and of the client (median of rounds). */
  serverCpuUsPerCall?: { daemon: number; echo: number; client: number };
}

/** A non-negative number from the environment, or `dflt` when unset. */
export function envInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${v}`);
  return n;
}

/**
 * The sections of this benchmark file that BENCH_ONLY (a comma list) asks for: all of them when it
 * is unset, none when it names only other files' sections.
 */
export function onlySections(sections: readonly string[]): Set<string> {
  const env = process.env.BENCH_ONLY;
  const asked = env === undefined || env === '' ? sections : env.split(',').map((s) => s.trim());
  return new Set(asked.filter((s) => sections.includes(s)));
}

export function fmt(n: number | null): string {
  if (n === null || Number.isNaN(n)) return '—';
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export class Report {
  readonly results: ResultRow[] = [];
  readonly started = new Date();
  readonly loadAtStart = os.loadavg();

  /** `baselineHeader` heads the baseline column, e.g. 'baseline (echo)'. */
  constructor(private readonly baselineHeader = 'baseline') {}

  record(row: ResultRow): void {
    this.results.push(row);
    const to = row.baselineName === undefined ? '' : ` to ${row.baselineName}`;
    const ratio =
      row.ratio === null || Number.isNaN(row.ratio) ? '' : ` (ratio ${row.ratio.toFixed(2)}${to})`;
    console.log(
      `  ${row.metric}: ${fmt(row.value)} ${row.unit}${ratio} ${row.verdict}${row.note === undefined ? '' : ` — ${row.note}`}`,
    );
  }

  printTable(): void {
    const head = ['metric', 'value', this.baselineHeader, 'ratio', 'target', 'result'];
    const rows = this.results.map((r) => [
      r.metric,
      `${fmt(r.value)} ${r.unit}`,
      r.baseline === null
        ? '—'
        : `${fmt(r.baseline)} ${r.unit}${r.baselineName === undefined ? '' : ` (${r.baselineName})`}`,
      r.ratio === null || Number.isNaN(r.ratio) ? '—' : r.ratio.toFixed(2),
      r.target,
      r.verdict,
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
    console.log('');
    console.log(line(head));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const r of rows) console.log(line(r));
    console.log('');
  }

  /** Prints the table, writes the results (with the machine and the config) to `file`, names the misses. */
  finish(file: string, config: Record<string, unknown>): void {
    this.printTable();
    const out = {
      date: this.started.toISOString(),
      loadAverageAtStart: this.loadAtStart,
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? '',
        memoryBytes: os.totalmem(),
        platform: `${os.platform()} ${os.release()}`,
        node: process.version,
      },
      config,
      results: this.results,
    };
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
    console.log(`results written to ${file}`);
    const missed = this.results.filter((r) => r.verdict === 'MISS');
    if (missed.length > 0)
      console.log(`${missed.length} target(s) missed: ${missed.map((r) => r.metric).join('; ')}`);
  }
}
