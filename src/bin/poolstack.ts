#!/usr/bin/env node
// poolstack: helper commands. `demo` runs a local demo pool on the sim driver in ./demo-pool
// (a second start reuses it); `gen-docs` regenerates docs/api from the model.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateApiDocs } from '../model/derive/docs.js';
import { noAsyncClasses } from '../model/derive/implicit.js';
import { classes } from '../model/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function genDocs(): void {
  const dir = join(root, 'docs', 'api');
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of generateApiDocs(classes, noAsyncClasses)) writeFileSync(join(dir, name), text);
  console.log(`wrote ${dir}`);
}

async function waitReady(file: string, child: { exitCode: number | null }, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (child.exitCode !== null)
      throw new Error('poolstackd exited during start-up (see demo-pool/host1/logs)');
    if (Date.now() > deadline) throw new Error('poolstackd did not become ready in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function demo(): Promise<void> {
  const base = join(root, 'demo-pool');
  const dataDir = join(base, 'host1');
  const address = '127.0.0.1';
  const port = Number(process.env.POOLSTACK_DEMO_PORT ?? 8443);
  const httpPort = Number(process.env.POOLSTACK_DEMO_HTTP_PORT ?? 8080);
  const fresh = !existsSync(join(dataDir, 'root-password.scrypt'));
  const pwFile = join(base, '.first-start-password');
  let password: string | undefined;
  if (fresh) {
    mkdirSync(base, { recursive: true, mode: 0o700 });
    password = randomBytes(12).toString('base64url');
    // Handed to the daemon once; it keeps only an scrypt hash. Removed as soon as it is ready.
    writeFileSync(pwFile, password + '\n', { mode: 0o600 });
  }
  const daemonJs = join(root, 'dist', 'src', 'bin', 'poolstackd.js');
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
    '--hostname',
    'demo-host1',
    ...(fresh ? ['--root-password-file', pwFile] : []),
  ];
  rmSync(join(dataDir, 'poolstackd.ready'), { force: true });
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    await waitReady(join(dataDir, 'poolstackd.ready'), child, 30_000);
  } finally {
    rmSync(pwFile, { force: true });
  }
  console.log('');
  console.log(
    fresh
      ? 'Poolstack demo pool created (one host, sim driver).'
      : 'Poolstack demo pool restarted (same pool as before).',
  );
  console.log(`  data dir : ${dataDir}`);
  console.log(`  API      : https://${address}:${port}/  (self-signed certificate)`);
  console.log(`             http://${address}:${httpPort}/  (plain HTTP, JSON-RPC at /jsonrpc)`);
  console.log('  user     : root');
  if (password !== undefined)
    console.log(`  password : ${password}   <- shown once; only its hash is stored`);
  else
    console.log('  password : the one printed when the pool was created (delete demo-pool/ to start over)');
  console.log('');
  const pw = password ?? 'PASSWORD';
  console.log('Try it:');
  console.log(`  node dist/src/bin/xe.js -s ${address} -p ${port} -pw ${pw} vm-list`);
  console.log(
    `  node dist/src/bin/xe.js -s ${address} -p ${port} -pw ${pw} vm-install template="Debian Bookworm 12" new-name-label=web01`,
  );
  console.log(
    `  curl -s http://${address}:${httpPort}/jsonrpc -d '{"jsonrpc":"2.0","id":1,"method":"session.login_with_password","params":["root","${pw}"]}'`,
  );
  console.log('');
  console.log('Ctrl-C stops the pool cleanly.');
  const stop = () => child.kill('SIGTERM');
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await new Promise<void>((r) => child.once('exit', () => r()));
  console.log('demo pool stopped.');
}

/** Installs xe's bash completion (default /etc/bash_completion.d/xe). */
function installCompletion(target = '/etc/bash_completion.d/xe'): void {
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(root, 'contrib', 'bash-completion', 'xe'), target);
  console.log(`installed ${target}; open a new shell (or: source ${target})`);
}

const commands: Record<string, () => Promise<void>> = {
  demo,
  'gen-docs': async () => genDocs(),
  'install-completion': async () => installCompletion(process.argv[3]),
};
const run = commands[process.argv[2] ?? ''];
if (run === undefined) {
  console.error('usage: poolstack demo | gen-docs | install-completion [FILE]');
  process.exit(2);
}
run().catch((e: unknown) => {
  console.error(`poolstack: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
