#!/usr/bin/env node
// xe: XenServer's CLI as a thin XenAPI client. Composition root only.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { runXe } from '../cli/main.js';

function rcText(): string | undefined {
  try {
    return readFileSync(join(homedir(), '.xe'), 'utf8');
  } catch {
    return undefined;
  }
}

const abort = new AbortController();
process.once('SIGINT', () => abort.abort());

runXe({
  argv: process.argv.slice(2),
  env: process.env,
  rcText: rcText(),
  readFile: (p) => readFileSync(p, 'utf8'),
  io: {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    isTty: process.stderr.isTTY === true,
  },
  signal: abort.signal,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
