// Starts a real poolstackd process for multi-process and compatibility tests: loopback only, a
// fresh data dir under test-output/, every wait bounded, stopped by its own pid. A failing test
// keeps the data dir and log; the path is printed so it can be inspected.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/src/testing → project root. */
export const projectRoot = resolve(here, '..', '..', '..');
const daemonJs = join(projectRoot, 'dist', 'src', 'bin', 'poolstackd.js');

export const TEST_PASSWORD = 'poolstack-test-password';

export function freePort(address = '127.0.0.1'): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, address, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** True when `port` can be bound on `address` right now. */
export function portFree(address: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, address, () => s.close(() => res(true)));
  });
}

export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface DaemonHandle {
  readonly dataDir: string;
  readonly address: string;
  readonly port: number;
  readonly httpPort: number;
  readonly httpUrl: string;
  readonly httpsUrl: string;
  readonly pid: number;
  /** SIGTERM and wait for exit (bounded). */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** Start the same data dir again (after stop/kill). */
  restart(): Promise<DaemonHandle>;
  /** Removes the data dir; call only when the test passed. */
  cleanup(): void;
}

export interface StartOptions {
  name: string;
  address?: string;
  dataDir?: string;
  extraArgs?: string[];
  timeoutMs?: number;
}

/** Where test data dirs go; kept on failure. */
export function testOutputDir(name: string): string {
  const dir = join(projectRoot, 'test-output', `${name}-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export async function startDaemonProcess(opts: StartOptions): Promise<DaemonHandle> {
  const address = opts.address ?? '127.0.0.1';
  const dataDir = opts.dataDir ?? testOutputDir(opts.name);
  mkdirSync(dataDir, { recursive: true });
  const pwFile = join(dataDir, 'test-root-password');
  if (!existsSync(pwFile)) writeFileSync(pwFile, TEST_PASSWORD + '\n', { mode: 0o600 });
  const [port, httpPort] = [await freePort(address), await freePort(address)];
  const readyFile = join(dataDir, 'poolstackd.ready');
  rmSync(readyFile, { force: true });
  const args = [
    daemonJs,
    '--data-dir',
    dataDir,
    '--address',
    address,
    '--port',
    String(port),
    '--http-port',
    String(httpPort),
    '--root-password-file',
    pwFile,
    '--hostname',
    opts.name,
    '--auth-failure-delay-ms',
    '50',
    ...(opts.extraArgs ?? []),
  ];
  mkdirSync(dataDir, { recursive: true });
  const out = join(dataDir, 'stdout.log');
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: string[] = [];
  child.stdout?.on('data', (d: Buffer) => chunks.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => chunks.push(d.toString()));
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((r) =>
    child.once('exit', (code) => {
      exited = code;
      writeFileSync(out, chunks.join(''));
      r(code);
    }),
  );
  await waitFor(`poolstackd ${opts.name} ready (data dir ${dataDir})`, opts.timeoutMs ?? 20_000, () => {
    if (exited !== undefined)
      throw new Error(`poolstackd exited with ${exited}: ${chunks.join('')} (data dir ${dataDir})`);
    return existsSync(readyFile) ? readFileSync(readyFile, 'utf8') : undefined;
  });
  const pid = child.pid ?? -1;
  const waitExit = async (ms: number) => {
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    const code = await exit;
    clearTimeout(t);
    return code;
  };
  const handle: DaemonHandle = {
    dataDir,
    address,
    port,
    httpPort,
    httpUrl: `http://${address}:${httpPort}`,
    httpsUrl: `https://${address}:${port}`,
    pid,
    stop: async () => {
      if (exited === undefined) process.kill(pid, 'SIGTERM');
      return waitExit(10_000);
    },
    kill: async () => {
      if (exited === undefined) process.kill(pid, 'SIGKILL');
      await waitExit(5_000);
    },
    restart: () => startDaemonProcess({ ...opts, dataDir }),
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
  };
  return handle;
}
