// Proves the restore plan maps this host onto the dump's master, keeps the other hosts to re-join,
// says where each SR will be attached, resets exactly the VMs that cannot be running (keeping
// those a host restoring its own pool still runs), and refuses a dump without its master.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DumpHeader } from '../../db/dump.js';
import type { StoredRow } from '../../db/sqlite-store.js';
import { describePlan, planRestore, RestorePlanError } from './restore-plan.js';

const header: DumpHeader = {
  format: 'poolstack-pool-dump',
  version: 1,
  schema: 2,
  pool: 'pool-u',
  master: 'h1-u',
  epoch: 2049,
  generation: 500,
  created: '2026-11-26T05:00:00.000Z',
  rows: 0,
};

const row = (cls: string, ref: string, body: Record<string, unknown>): StoredRow => ({
  cls,
  ref,
  ctime: 1,
  mtime: 1,
  body,
});

const rows: StoredRow[] = [
  row('pool', 'P', { uuid: 'pool-u', master: 'H1' }),
  row('host', 'H1', { uuid: 'h1-u', name_label: 'one', address: '10.0.0.1' }),
  row('host', 'H2', { uuid: 'h2-u', name_label: 'two', address: '10.0.0.2' }),
  row('SR', 'S', { uuid: 'shared-u', name_label: 'shared', type: 'file', shared: true }),
  row('SR', 'L1', { uuid: 'l1-u', name_label: 'Local storage', type: 'ext', shared: false }),
  row('SR', 'L2', { uuid: 'l2-u', name_label: 'Local storage', type: 'ext', shared: false }),
  row('PBD', 'PS1', { SR: 'S', host: 'H1', device_config: { location: '/mnt/sr' } }),
  row('PBD', 'PS2', { SR: 'S', host: 'H2', device_config: { location: '/mnt/sr' } }),
  row('PBD', 'PL1', { SR: 'L1', host: 'H1', device_config: { path: '/var/sr1' } }),
  row('PBD', 'PL2', { SR: 'L2', host: 'H2', device_config: { path: '/var/sr2' } }),
  row('VM', 'D1', { uuid: 'dom0-1', is_control_domain: true, power_state: 'Running', resident_on: 'H1' }),
  row('VM', 'T', { uuid: 't', is_a_template: true, power_state: 'Halted' }),
  row('VM', 'V1', { uuid: 'v1', name_label: 'on-one', power_state: 'Running', resident_on: 'H1' }),
  row('VM', 'V2', { uuid: 'v2', name_label: 'on-two', power_state: 'Paused', resident_on: 'H2' }),
  row('VM', 'V3', { uuid: 'v3', name_label: 'off', power_state: 'Halted', resident_on: 'OpaqueRef:NULL' }),
  row('VM', 'V4', {
    uuid: 'v4',
    name_label: 'asleep',
    power_state: 'Suspended',
    resident_on: 'OpaqueRef:NULL',
  }),
];

const canAttach = (_t: string, dc: Record<string, string>) => dc.location === '/mnt/sr';
const fresh = { uuid: 'new-u', address: '10.0.0.9', hostname: 'new', domains: new Set<string>(), canAttach };

void describe('restore plan', () => {
  void it("maps this host onto the dump's master and resets the VMs that cannot be running", () => {
    const p = planRestore(header, rows, fresh);
    assert.equal(p.master.ref, 'H1');
    assert.deepEqual(
      p.rejoin.map((h) => h.uuid),
      ['h2-u'],
    );
    assert.deepEqual(
      p.srs.map((s) => [s.uuid, s.where, s.pbd?.ref]),
      [
        ['shared-u', 'here', 'PS1'],
        ['l1-u', 'here', 'PL1'],
        ['l2-u', 'elsewhere', undefined],
      ],
    );
    assert.deepEqual(
      p.reset.map((v) => [v.uuid, v.powerState, v.residentOn]),
      [
        ['v1', 'Running', 'one'],
        ['v2', 'Paused', 'two'],
      ],
    );
    assert.deepEqual([p.kept, p.halted, p.suspended], [[], 1, 1]);
    const text = describePlan(p, fresh).join('\n');
    assert.match(text, /takes the place of master one \(h1-u\)/);
    assert.match(text, /two \(h2-u, 10\.0\.0\.2\)/);
    assert.match(text, /on-one \(v1\): was Running on one/);
    assert.match(text, /shared \(shared-u, file, shared\): plugged on this host/);
    assert.match(text, /Local storage \(l1-u, ext\): not reachable here \(\/var\/sr1\): left unplugged/);
  });

  void it('keeps the VMs a host restoring its own pool still runs', () => {
    const same = { uuid: 'h1-u', address: '10.0.0.1', hostname: 'one', domains: new Set(['v1']), canAttach };
    const p = planRestore(header, rows, same);
    assert.deepEqual(
      p.kept.map((v) => v.uuid),
      ['v1'],
    );
    assert.deepEqual(
      p.reset.map((v) => v.uuid),
      ['v2'],
    );
  });

  void it('refuses a dump whose master is missing or whose pool record is not unique', () => {
    assert.throws(() => planRestore({ ...header, master: 'nobody' }, rows, fresh), RestorePlanError);
    assert.throws(() => planRestore(header, rows.slice(1), fresh), RestorePlanError);
  });
});
