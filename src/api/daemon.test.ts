// Proves the API end to end in one process over real HTTP: sessions, implicit messages, event.from
// long-polling and coalescing, event.inject tokens, Async tasks with XML-RPC results, task.cancel,
// legacy event.register/next, system.listMethods, and that a restart keeps the pool.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { XapiCallError, XapiClient } from '../rpc/client.js';
import { startDaemon, type Daemon } from './daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'poolstack-api-'));
let daemon: Daemon;
let api: XapiClient;

async function boot(): Promise<void> {
  daemon = await startDaemon({
    dataDir: dir,
    address: '127.0.0.1',
    port: 0,
    httpPort: 0,
    driver: 'sim',
    hostname: 'unit',
    rootPassword: 'pw',
    authFailureDelayMs: 0,
    logLevel: 'warn',
  });
  api = new XapiClient(`http://127.0.0.1:${daemon.httpPort}`);
  await api.login('root', 'pw');
}

const call = (m: string, ...p: unknown[]) => api.callSession(m, ...p);

async function newVm(name: string): Promise<string> {
  const [tpl] = (await call('VM.get_by_name_label', 'Debian Bookworm 12')) as string[];
  const vm = (await call('VM.clone', tpl, name)) as string;
  await call('VM.provision', vm);
  await call('VM.set_is_a_template', vm, false);
  return vm;
}

function genOf(token: string): number {
  return Number(token.split(',')[0]);
}

before(boot);
after(async () => {
  api.close();
  await daemon.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('API in process', () => {
  it('creates a one-host pool with a default SR, network and templates', async () => {
    const pools = (await call('pool.get_all_records')) as Record<string, Record<string, unknown>>;
    const pool = Object.values(pools)[0];
    assert.equal(Object.keys(pools).length, 1);
    assert.equal(pool?.master, daemon.hostRef);
    const sr = (await call('SR.get_record', pool?.default_SR)) as Record<string, unknown>;
    assert.equal(sr.name_label, 'Local storage');
    const tpls = (await call('VM.get_all_records_where', 'field "is_a_template"="true"')) as Record<
      string,
      unknown
    >;
    assert.ok(Object.keys(tpls).length >= 3);
    assert.equal(await call('session.get_this_host', api.session), daemon.hostRef);
  });

  it('delivers coalesced events from a token and long-polls until a change', async () => {
    const vm = await newVm('ev1');
    const first = (await call('event.from', ['vm'], '', 0.01)) as {
      token: string;
      events: { ref: string; operation: string }[];
      valid_ref_counts: Record<string, number>;
    };
    assert.ok(first.events.some((e) => e.ref === vm && e.operation === 'add'));
    assert.equal(typeof first.valid_ref_counts.task, 'number');
    const waiting = call('event.from', ['VM'], first.token, 10.0) as Promise<{
      events: { ref: string; operation: string; snapshot: Record<string, unknown> }[];
    }>;
    await new Promise((r) => setTimeout(r, 50));
    await call('VM.set_name_label', vm, 'a');
    await call('VM.set_name_label', vm, 'b');
    const got = await waiting;
    const mine = got.events.filter((e) => e.ref === vm);
    assert.ok(mine.length >= 1 && mine.length <= 2);
    assert.equal(mine.at(-1)?.operation, 'mod');
    const empty = (await call(
      'event.from',
      ['vm'],
      first.token.replace(/^\d+/, (d) => String(Number(d) + 1_000_000).padStart(20, '0')),
      0.05,
    )) as { events: unknown[] };
    assert.deepEqual(empty.events, []);
  });

  it('returns an inject token one below the touched generation', async () => {
    const pool = ((await call('pool.get_all')) as string[])[0];
    const token = (await call('event.inject', 'pool', pool)) as string;
    const r = (await call('event.from', ['pool'], token, 1.0)) as {
      events: { ref: string }[];
      token: string;
    };
    assert.equal(r.events[0]?.ref, pool);
    assert.equal(genOf(r.token), genOf(token) + 1);
    await assert.rejects(
      call('event.inject', 'pool', 'OpaqueRef:nope'),
      (e: XapiCallError) => e.code === 'HANDLE_INVALID',
    );
    await assert.rejects(
      call('event.from', ['vm'], 'garbage', 0.1),
      (e: XapiCallError) => e.code === 'EVENT_FROM_TOKEN_PARSE_FAILURE',
    );
    await assert.rejects(
      call('event.from', ['nosuchclass'], '', 0.1),
      (e: XapiCallError) => e.code === 'EVENT_SUBSCRIPTION_PARSE_FAILURE',
    );
  });

  it('runs Async calls as tasks whose result is an XML-RPC value fragment', async () => {
    const [tpl] = (await call('VM.get_by_name_label', 'Other install media')) as string[];
    const task = (await call('Async.VM.clone', tpl, 'async-clone')) as string;
    let rec: Record<string, unknown> = {};
    for (let i = 0; i < 200 && rec.status !== 'success'; i++) {
      rec = (await call('task.get_record', task)) as Record<string, unknown>;
      if (rec.status === 'pending') await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(rec.status, 'success');
    assert.match(String(rec.result), /^<value>OpaqueRef:[0-9a-f-]+<\/value>$/);
    const failing = (await call('Async.VM.unpause', tpl)) as string;
    for (let i = 0; i < 200 && rec.status !== 'failure'; i++)
      rec = (await call('task.get_record', failing)) as Record<string, unknown>;
    assert.equal((rec.error_info as string[])[0], 'VM_IS_TEMPLATE');
    await call('task.destroy', failing);
    await assert.rejects(call('task.get_record', failing), (e: XapiCallError) => e.code === 'HANDLE_INVALID');
  });

  it('cancels a client task', async () => {
    const task = (await call('task.create', 'mine', 'desc')) as string;
    await call('task.cancel', task);
    assert.equal(await call('task.get_status', task), 'cancelled');
    await assert.rejects(call('task.cancel', task), (e: XapiCallError) => e.code === 'OPERATION_NOT_ALLOWED');
  });

  it('queues legacy events for event.register/next', async () => {
    await assert.rejects(call('event.next'), (e: XapiCallError) => e.code === 'SESSION_NOT_REGISTERED');
    await call('event.register', ['vm']);
    const vm = await newVm('legacy');
    const evs = (await call('event.next')) as { ref: string; class: string }[];
    assert.ok(evs.some((e) => e.ref === vm && e.class === 'vm'));
    await call('event.unregister', ['vm']);
  });

  it('lists methods without a session, including Async twins', async () => {
    const names = (await api.call('system.listMethods', [])) as string[];
    for (const m of [
      'VM.start',
      'Async.VM.start',
      'VM.get_all_records',
      'event.from',
      'pool.add_to_other_config',
    ])
      assert.ok(names.includes(m), m);
    assert.ok(!names.includes('Async.event.from'));
  });

  it('drives a VM through its whole power cycle and keeps operations right', async () => {
    const vm = await newVm('cycle');
    await call('VM.start', vm, false, false);
    assert.equal(await call('VM.get_power_state', vm), 'Running');
    const ops = (await call('VM.get_allowed_operations', vm)) as string[];
    assert.ok(ops.includes('clean_shutdown') && !ops.includes('start'));
    for (const [m, state] of [
      ['VM.pause', 'Paused'],
      ['VM.unpause', 'Running'],
      ['VM.suspend', 'Suspended'],
    ] as const) {
      await call(m, vm);
      assert.equal(await call('VM.get_power_state', vm), state);
    }
    assert.notEqual(await call('VM.get_suspend_VDI', vm), 'OpaqueRef:NULL');
    await call('VM.resume', vm, false, false);
    await call('VM.clean_reboot', vm);
    await call('VM.hard_reboot', vm);
    await call('VM.clean_shutdown', vm);
    assert.equal(await call('VM.get_power_state', vm), 'Halted');
    assert.equal(await call('VM.get_suspend_VDI', vm), 'OpaqueRef:NULL');
    await call('VM.start', vm, true, false);
    assert.equal(await call('VM.get_power_state', vm), 'Paused');
    await call('VM.hard_shutdown', vm);
    const vbds = (await call('VM.get_VBDs', vm)) as string[];
    const vdi = (await call('VBD.get_VDI', vbds[0])) as string;
    await call('VM.destroy', vm);
    await assert.rejects(call('VM.get_record', vm), (e: XapiCallError) => e.code === 'HANDLE_INVALID');
    assert.equal(typeof (await call('VDI.get_uuid', vdi)), 'string', 'VM.destroy leaves VDIs');
  });

  it('audits every call that is not a read, with secrets redacted', async () => {
    const vm = await newVm('audited');
    await call('VM.set_name_label', vm, 'audited-2');
    await call('VM.get_record', vm);
    const lines = readFileSync(join(dir, 'logs', 'audit.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { call: string; user?: string; args: unknown; outcome: string });
    const set = lines.find(
      (l) => l.call === 'VM.set_name_label' && JSON.stringify(l.args).includes('audited-2'),
    );
    assert.equal(set?.user, 'root');
    assert.equal(set?.outcome, 'ok');
    const login = lines.find((l) => l.call === 'session.login_with_password');
    assert.equal(login?.args, '(redacted)');
    assert.ok(
      !readFileSync(join(dir, 'logs', 'audit.log'), 'utf8').includes('"pw"'),
      'no password in the audit log',
    );
    assert.ok(!lines.some((l) => l.call === 'VM.get_record'), 'reads are not audited');
  });

  it('keeps the pool, VMs and running domains across a restart', async () => {
    const vm = await newVm('survivor');
    await call('VM.start', vm, false, false);
    const domid = await call('VM.get_domid', vm);
    const token = ((await call('event.from', ['vm'], '', 0.01)) as { token: string }).token;
    api.close();
    await daemon.stop();
    await boot();
    assert.equal(await call('VM.get_power_state', vm), 'Running');
    assert.equal(await call('VM.get_domid', vm), domid);
    const r = (await call('event.from', ['vm'], token, 0.05)) as { token: string };
    assert.ok(genOf(r.token) > genOf(token));
  });
});
