// Proves idle sessions expire (SESSION_INVALID afterwards) while active ones stay valid, and that
// a user's sessions are bounded with the least recently used going first.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { XapiCallError, XapiClient } from '../rpc/client.js';
import { startDaemon, type Daemon } from './daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'poolstack-expiry-'));
let daemon: Daemon;
let url: string;

before(async () => {
  daemon = await startDaemon({
    dataDir: dir,
    address: '127.0.0.1',
    port: 0,
    httpPort: 0,
    driver: 'sim',
    hostname: 'expiry',
    rootPassword: 'pw',
    authFailureDelayMs: 0,
    logLevel: 'warn',
    sessionIdleMs: 400,
    sessionsPerUserMax: 3,
    sweepIntervalMs: 50,
  });
  url = `http://127.0.0.1:${daemon.httpPort}`;
});
after(async () => {
  await daemon.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('destroys sessions idle past the limit and keeps active ones', async () => {
  const idle = new XapiClient(url);
  const busy = new XapiClient(url);
  await idle.login('root', 'pw');
  await busy.login('root', 'pw');
  const deadline = Date.now() + 5000;
  let expired = false;
  while (!expired && Date.now() < deadline) {
    await busy.callSession('pool.get_all');
    await new Promise((r) => setTimeout(r, 100));
    // Reading the idle session's record through another session does not count as its activity.
    expired = await busy.callSession('session.get_uuid', idle.session).then(
      () => false,
      (e: XapiCallError) => e.code === 'HANDLE_INVALID',
    );
  }
  assert.ok(expired, 'the idle session was swept within 5 s');
  await assert.rejects(
    idle.callSession('pool.get_all'),
    (e: XapiCallError) => e.code === 'SESSION_INVALID' && e.params[0] === idle.session,
  );
  await busy.callSession('pool.get_all');
  idle.close();
  busy.close();
});

it('bounds the sessions of one user, destroying the least recently used first', async () => {
  const clients = Array.from({ length: 4 }, () => new XapiClient(url));
  for (const c of clients.slice(0, 3)) await c.login('root', 'pw');
  // Touch the first so the second becomes the least recently used.
  await (clients[0] as XapiClient).callSession('pool.get_all');
  await (clients[3] as XapiClient).login('root', 'pw');
  await assert.rejects(
    (clients[1] as XapiClient).callSession('pool.get_all'),
    (e: XapiCallError) => e.code === 'SESSION_INVALID',
  );
  for (const i of [0, 2, 3]) await (clients[i] as XapiClient).callSession('pool.get_all');
  clients.forEach((c) => c.close());
});
