// Shared runner for the xe compatibility tests: runs dist/src/bin/xe.js as a real child process
// against a test daemon (empty HOME, no XE_EXTRA_ARGS unless asked), with a bounded wait, and
// turns transcripts into golden text by replacing the run's variable parts (uuids, dates, MACs,
// the data dir) with deterministic placeholders.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classes } from '../../src/model/index.js';
import { XapiClient } from '../../src/rpc/client.js';
import { projectRoot, TEST_PASSWORD, type DaemonHandle } from '../../src/testing/daemon-process.js';

export const xeJs = join(projectRoot, 'dist', 'src', 'bin', 'xe.js');
export const goldenDir = join(projectRoot, 'test', 'compat', 'golden');
export const XE_TIMEOUT_MS = 30_000;

export interface XeResult {
  readonly args: readonly string[];
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

export interface RunOptions {
  /** Extra environment (HOME and XE_EXTRA_ARGS are controlled by the runner unless given here). */
  env?: Record<string, string>;
  /** Leave out -s/-p/--nossl/-pw: the connection must come from XE_EXTRA_ARGS or ~/.xe. */
  bare?: boolean;
  /** Password for -pw (default: the test password). */
  password?: string;
  /** Text fed to stdin (stdin is closed afterwards). */
  stdin?: string;
  timeoutMs?: number;
}

/** Runs the real `xe` binary as a child process and collects stdout, stderr and the exit code. */
export function runProcess(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  stdin: string | undefined,
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [xeJs, ...argv], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (timedOut)
        reject(new Error(`xe ${argv.join(' ')} timed out after ${timeoutMs} ms; stderr: ${stderr}`));
      else resolve({ stdout, stderr, code });
    });
    child.stdin.end(stdin ?? '');
  });
}

/** A clean environment for xe: no XE_EXTRA_ARGS, HOME pointing at `home`. */
export function cleanEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.XE_EXTRA_ARGS;
  return { ...env, HOME: home, ...extra };
}

/** Runs xe against one daemon. Every call gets an empty HOME unless the caller supplies one. */
export class Xe {
  readonly home: string;

  constructor(readonly daemon: DaemonHandle) {
    this.home = mkdtempSync(join(tmpdir(), 'xe-home-'));
  }

  /** The connection arguments, as an administrator would type them. */
  connArgs(password = TEST_PASSWORD): string[] {
    return ['-s', this.daemon.address, '-p', String(this.daemon.httpPort), '--nossl', '-pw', password];
  }

  async run(args: readonly string[], opts: RunOptions = {}): Promise<XeResult> {
    const argv = [...(opts.bare === true ? [] : this.connArgs(opts.password)), ...args];
    const env = cleanEnv(this.home, opts.env);
    const r = await runProcess(argv, env, opts.stdin, opts.timeoutMs ?? XE_TIMEOUT_MS);
    return { args, ...r };
  }

  /** Runs xe and requires success with nothing on stderr; returns stdout. */
  async ok(args: readonly string[], opts: RunOptions = {}): Promise<string> {
    const r = await this.run(args, opts);
    assert.equal(r.code, 0, `xe ${args.join(' ')} exited ${String(r.code)}; stderr: ${r.stderr}`);
    assert.equal(r.stderr, '', `xe ${args.join(' ')} wrote to stderr`);
    return r.stdout;
  }

  /** `xe … --minimal` split into its values (xe's comma escaping undone). */
  async minimal(args: readonly string[]): Promise<string[]> {
    const line = (await this.ok([...args, '--minimal'])).replace(/\n$/, '');
    return splitMinimal(line);
  }

  cleanup(): void {
    rmSync(this.home, { recursive: true, force: true });
  }
}

/** Splits xe --minimal output on unescaped commas and undoes `\,` and `\\`. */
export function splitMinimal(line: string): string[] {
  if (line === '') return [];
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** An API client logged in as root, for creating objects xe has no verb for. */
export async function apiClient(daemon: DaemonHandle): Promise<XapiClient> {
  const api = new XapiClient(daemon.httpUrl, { timeoutMs: 10_000 });
  await api.login('root', TEST_PASSWORD);
  return api;
}

/** The class of every object the daemon knows, by uuid (for naming placeholders). */
export async function uuidClasses(api: XapiClient): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [cls, def] of Object.entries(classes)) {
    if (Object.keys(def.fields).length === 0 || !('uuid' in def.fields) || cls === 'session') continue;
    const all = (await api.callSession(`${cls}.get_all_records`).catch(() => ({}))) as Record<
      string,
      { uuid?: unknown }
    >;
    for (const rec of Object.values(all)) if (typeof rec.uuid === 'string') out.set(rec.uuid, cls);
  }
  return out;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * Replaces the variable parts of a transcript, deterministically: uuids named by the test become
 * `<name>`; other uuids become `<class-N>` (N counts first appearances per class within the text);
 * uuids the daemon does not know become `<uuid-N>`. Dates other than the epoch become `<datetime>`,
 * MAC addresses `<mac>`, the data dir `<data-dir>`, the product version `<version>`.
 */
export function scrub(
  text: string,
  named: ReadonlyMap<string, string>,
  classOf: ReadonlyMap<string, string>,
  dataDir: string,
): string {
  const seen = new Map<string, string>();
  const counters = new Map<string, number>();
  let s = text.split(dataDir).join('<data-dir>');
  s = s.replace(UUID, (u) => {
    const known = named.get(u) ?? seen.get(u);
    if (known !== undefined) return `<${known}>`;
    const cls = classOf.get(u) ?? 'uuid';
    const n = (counters.get(cls) ?? 0) + 1;
    counters.set(cls, n);
    const label = `${cls}-${n}`;
    seen.set(u, label);
    return `<${label}>`;
  });
  s = s.replace(/\b(?!19700101T00:00:00Z)\d{8}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})?/g, '<datetime>');
  s = s.replace(/\b\d{4}-\d{2}-\d{2}\b/g, '<date>');
  s = s.replace(/\b[0-9a-f]{2}(:[0-9a-f]{2}){5}\b/gi, '<mac>');
  s = s.replace(/OpaqueRef:[0-9a-f-]+/g, '<opaque-ref>');
  // The product's own version (package.json) changes with every release.
  s = s.replace(/\b((?:product_version(?:_text(?:_short)?)?|xapi_build): )[^;\n]+/g, '$1<version>');
  return s;
}

/** A transcript as stored in a golden file: the command line, stdout, stderr and the exit code. */
export function transcript(r: XeResult): string {
  return `$ xe ${r.args.join(' ')}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}--- exit ${String(r.code)}\n`;
}

/**
 * Compares a scrubbed transcript with test/compat/golden/<name>.txt, whole text, exactly.
 * UPDATE_GOLDEN=1 rewrites the file instead (review it by eye before committing).
 */
export function checkGolden(name: string, actual: string): void {
  const file = join(goldenDir, `${name}.txt`);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(goldenDir, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.ok(existsSync(file), `golden file ${file} is missing; run with UPDATE_GOLDEN=1 and review it`);
  const expected = readFileSync(file, 'utf8');
  assert.equal(actual, expected, `output differs from golden file ${file}`);
}

/** Runs `fn`, recording a failure so the suite keeps its data dir. */
export function tracker(): {
  failed: () => boolean;
  track: (fn: () => Promise<void>) => () => Promise<void>;
} {
  let failed = false;
  return {
    failed: () => failed,
    track: (fn) => async () => {
      try {
        await fn();
      } catch (e) {
        failed = true;
        throw e;
      }
    },
  };
}

/** Stops the suite's daemon; keeps (and prints) its data dir if anything failed. */
export async function finish(daemon: DaemonHandle | undefined, name: string, failed: boolean): Promise<void> {
  if (daemon === undefined) return;
  await daemon.stop();
  if (failed) console.error(`${name} failed; data dir kept at ${daemon.dataDir}`);
  else daemon.cleanup();
}
