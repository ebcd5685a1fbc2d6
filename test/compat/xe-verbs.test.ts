// Proves xe's host, storage, device, network and task verbs against a real poolstackd: each does
// what XenServer's does (creating verbs print the new uuid, the rest nothing), refusals carry
// xapi's errors, and host-shutdown stops the host after marking it not live.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDaemonProcess, waitFor, type DaemonHandle } from '../../src/testing/daemon-process.js';
import { finish, tracker, Xe } from './xe-helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n$/;

describe('xe verbs', { timeout: 120_000 }, () => {
  let daemon: DaemonHandle | undefined;
  let xe: Xe | undefined;
  const { failed, track } = tracker();
  const srDir = mkdtempSync(join(tmpdir(), 'xe-verbs-sr-'));
  let host = '';

  before(async () => {
    daemon = await startDaemonProcess({ name: 'xe-verbs' });
    xe = new Xe(daemon);
    host = (await xe.ok(['host-list', '--minimal'])).trim();
  });

  after(async () => {
    xe?.cleanup();
    rmSync(srDir, { recursive: true, force: true });
    await finish(daemon, 'xe-verbs', failed());
  });

  const param = async (cls: string, uuid: string, name: string) =>
    (await (xe as Xe).ok([`${cls}-param-get`, `uuid=${uuid}`, `param-name=${name}`])).trim();

  it(
    'disables and enables the host, computes free memory, reports emergency mode',
    track(async () => {
      assert.ok(xe);
      assert.equal(await xe.ok(['host-disable', `host=${host}`]), '');
      assert.equal(await param('host', host, 'enabled'), 'false');
      const r = await xe.run(['vm-install', 'template=Other install media', 'new-name-label=nope']);
      assert.equal(r.code, 0, 'installing needs no enabled host');
      const vm = r.stdout.trim();
      const start = await xe.run(['vm-start', `uuid=${vm}`]);
      assert.equal(start.code, 1);
      assert.match(start.stderr, /^The specified server is disabled\.\nhost: [0-9a-f-]+ \(xe-verbs\)\n$/);
      assert.equal(await xe.ok(['host-enable']), '');
      assert.equal(await param('host', host, 'enabled'), 'true');
      assert.match(await xe.ok(['host-compute-free-memory']), /^\d+\n$/);
      assert.equal(await xe.ok(['host-is-in-emergency-mode']), 'false\n');
      await xe.ok(['vm-start', `uuid=${vm}`]);
      const evac = await xe.run(['host-evacuate', `uuid=${host}`]);
      assert.equal(evac.code, 1, 'a one-host pool has nowhere to move a running VM');
      assert.match(evac.stderr, /no servers available/);
      await xe.ok(['vm-shutdown', `uuid=${vm}`, '--force']);
      assert.equal(await xe.ok(['host-evacuate', `uuid=${host}`]), '');
    }),
  );

  it(
    'creates, scans, unplugs, forgets, re-introduces and destroys a file SR',
    track(async () => {
      assert.ok(xe);
      const sr = (
        await xe.ok(['sr-create', 'name-label=extra', 'type=file', `device-config:location=${srDir}`])
      ).trim();
      assert.match(sr + '\n', UUID);
      assert.equal(await param('sr', sr, 'type'), 'file');
      const vdi = await xe.ok(['vdi-create', `sr-uuid=${sr}`, 'name-label=data', 'virtual-size=1GiB']);
      assert.match(vdi, UUID);
      assert.equal(await param('vdi', vdi.trim(), 'virtual-size'), String(1024 ** 3));
      assert.equal(await xe.ok(['vdi-resize', `uuid=${vdi.trim()}`, 'disk-size=2GiB']), '');
      assert.equal(await param('vdi', vdi.trim(), 'virtual-size'), String(2 * 1024 ** 3));
      assert.equal(readdirSync(srDir).filter((f) => f.endsWith('.img')).length, 1);
      assert.equal(await xe.ok(['sr-scan', `uuid=${sr}`]), '');
      const pbd = (await xe.ok(['pbd-list', `sr-uuid=${sr}`, '--minimal'])).trim();
      const busy = await xe.run(['sr-forget', `uuid=${sr}`]);
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, /^The SR is still connected to a host via a PBD/);
      assert.equal(await xe.ok(['pbd-unplug', `uuid=${pbd}`]), '');
      assert.equal(await xe.ok(['sr-forget', `uuid=${sr}`]), '');
      assert.equal((await xe.ok(['sr-list', `uuid=${sr}`, '--minimal'])).trim(), '');
      // The data is still there: introduce the SR again and plug a new PBD.
      assert.equal(
        await xe.ok(['sr-introduce', `uuid=${sr}`, 'name-label=extra', 'type=file', 'content-type=user']),
        `${sr}\n`,
      );
      const pbd2 = (
        await xe.ok(['pbd-create', `host-uuid=${host}`, `sr-uuid=${sr}`, `device-config:location=${srDir}`])
      ).trim();
      assert.equal(await xe.ok(['pbd-plug', `uuid=${pbd2}`]), '');
      assert.equal(await param('pbd', pbd2, 'currently-attached'), 'true');
      assert.equal(await xe.ok(['sr-scan', `uuid=${sr}`]), '');
      assert.deepEqual(
        await xe.minimal(['vdi-list', `sr-uuid=${sr}`, 'params=uuid']),
        [vdi.trim()],
        'sr-scan finds the VDI again',
      );
      assert.equal(await param('vdi', vdi.trim(), 'virtual-size'), String(2 * 1024 ** 3));
      const attached = await xe.run(['sr-destroy', `uuid=${sr}`]);
      assert.equal(attached.code, 1, 'as in xapi, sr-destroy wants the PBDs unplugged first');
      assert.match(attached.stderr, /^The SR is still connected to a host via a PBD/);
      assert.equal(await xe.ok(['pbd-unplug', `uuid=${pbd2}`]), '');
      assert.equal(await xe.ok(['sr-destroy', `uuid=${sr}`]), '');
      assert.equal(
        readdirSync(srDir).filter((f) => f.endsWith('.img')).length,
        0,
        'sr-destroy removes the data',
      );
    }),
  );

  it(
    'adds disks, CD drives, networks and VIFs to a VM',
    track(async () => {
      assert.ok(xe);
      const vm = (
        await xe.ok(['vm-install', 'template=Other install media', 'new-name-label=devices'])
      ).trim();
      const sr = (await xe.ok(['sr-list', 'name-label=Local storage', '--minimal'])).trim();
      const vdi = (
        await xe.ok(['vdi-create', `sr-uuid=${sr}`, 'name-label=d1', 'virtual-size=64MiB'])
      ).trim();
      const vbd = await xe.ok(['vbd-create', `vm-uuid=${vm}`, `vdi-uuid=${vdi}`, 'device=1']);
      assert.match(vbd, UUID);
      const cd = await xe.ok(['vbd-create', `vm-uuid=${vm}`, 'device=3', 'type=CD', 'mode=RO']);
      assert.match(cd, UUID);
      const emptyDisk = await xe.run(['vbd-create', `vm-uuid=${vm}`, 'device=4']);
      assert.equal(emptyDisk.stderr, 'Error: Empty VBDs can only be made for type=CD\n');
      const net = (await xe.ok(['network-create', 'name-label=backend'])).trim();
      assert.match(await param('network', net, 'bridge'), /^xapi\d+$/);
      const vif = await xe.ok([
        'vif-create',
        `vm-uuid=${vm}`,
        `network-uuid=${net}`,
        'device=0',
        'mac=random',
      ]);
      assert.match(vif, UUID);
      assert.match(await param('vif', vif.trim(), 'MAC'), /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      await xe.ok(['vm-start', `uuid=${vm}`]);
      assert.equal(await param('vbd', vbd.trim(), 'currently-attached'), 'true');
      assert.equal(await xe.ok(['vbd-unplug', `uuid=${vbd.trim()}`]), '');
      assert.equal(await param('vbd', vbd.trim(), 'currently-attached'), 'false');
      assert.equal(await xe.ok(['vbd-plug', `uuid=${vbd.trim()}`]), '');
      const inUse = await xe.run(['vdi-destroy', `uuid=${vdi}`]);
      assert.equal(inUse.code, 1);
      assert.match(inUse.stderr, /^This operation cannot be performed because this VDI is in use/);
      await xe.ok(['vm-shutdown', `uuid=${vm}`]);
      assert.equal(await xe.ok(['vbd-destroy', `uuid=${vbd.trim()}`]), '');
      assert.equal(await xe.ok(['vdi-destroy', `uuid=${vdi}`]), '');
    }),
  );

  it(
    'lists and cancels tasks and lists messages',
    track(async () => {
      assert.ok(xe && daemon);
      const { apiClient } = await import('./xe-helpers.js');
      const api = await apiClient(daemon);
      const task = (await api.callSession('task.create', 'long job', 'made by the test')) as string;
      const uuid = (await api.callSession('task.get_uuid', task)) as string;
      assert.ok((await xe.minimal(['task-list', 'params=uuid'])).includes(uuid));
      assert.equal(await xe.ok(['task-cancel', `uuid=${uuid}`]), '');
      assert.equal(await param('task', uuid, 'status'), 'cancelled');
      await api.callSession('message.create', 'TEST_ALERT', 3, 'Host', host, 'body text');
      const listed = await xe.ok(['message-list', 'name=TEST_ALERT']);
      assert.match(listed, /name \( RO\): TEST_ALERT/);
      assert.match(listed, /body \( RO\): body text/);
      api.close();
    }),
  );

  it(
    'host-shutdown refuses an enabled host, then marks it not live and stops the daemon',
    track(async () => {
      assert.ok(xe && daemon);
      const refused = await xe.run(['host-shutdown', `host=${host}`]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^This operation cannot be performed because the host is not disabled\./);
      await xe.ok(['host-disable']);
      assert.equal(await xe.ok(['host-shutdown']), '');
      const d = daemon;
      await waitFor('poolstackd to exit after host-shutdown', 10_000, () => {
        try {
          process.kill(d.pid, 0);
          return undefined;
        } catch {
          return true;
        }
      });
      // Restarted, the host comes back live; it stays disabled only if auto-enable was false.
      daemon = await d.restart();
      xe = new Xe(daemon);
      assert.equal(await param('host', host, 'enabled'), 'true');
    }),
  );
});
