// Proves shared SRs on a real three-host pool with xe alone: sr-create shared=true attaches one PBD per host, every host uses the same disks (a VM on the SR starts on each host in turn), members' PBDs plug and unplug on their own host (VDI_IN_USE, HOST_OFFLINE), a restarted or re-joined member gets its storage back, sr-forget/sr-introduce/pbd-create/pbd-plug/sr-scan re-attach the data, vm-install uses the pool's default-SR, and bad input changes nothing.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { XapiCallError, type XapiClient } from '../../src/rpc/client.js';
import { TEST_PASSWORD, waitFor } from '../../src/testing/daemon-process.js';
import { startPool, type TestPool } from '../../src/testing/pool.js';
import { tracker, Xe, type XeResult } from './xe-helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n$/;
const HAS_PBD = /^The SR is still connected to a host via a PBD\. It cannot be destroyed or forgotten\.\n/;

function failed(r: XeResult, stderr: RegExp): void {
  assert.equal(r.code, 1, `xe ${r.args.join(' ')} should fail; stdout: ${r.stdout}`);
  assert.match(r.stderr, stderr, `xe ${r.args.join(' ')}`);
}

describe('shared SRs on a three-host pool', { timeout: 300_000 }, () => {
  let pool: TestPool | undefined;
  let xe: Xe | undefined;
  const { failed: anyFailed, track } = tracker();
  const shared = mkdtempSync(join(tmpdir(), 'poolstack-shared-sr-'));
  /** Host uuids in pool order: [master, member 2, member 3]. */
  let hosts: string[] = [];
  let sr = '';
  let vdi = '';
  let vm = '';

  const x = (): Xe => {
    assert.ok(xe);
    return xe;
  };
  const param = async (cls: string, uuid: string, name: string) =>
    (await x().ok([`${cls}-param-get`, `uuid=${uuid}`, `param-name=${name}`])).trim();
  const pbdOf = async (host: string) => {
    const [p] = await x().minimal(['pbd-list', `sr-uuid=${sr}`, `host-uuid=${host}`]);
    assert.ok(p !== undefined, `host ${host} has a PBD for the SR`);
    return p;
  };
  const attached = async (host: string) => param('pbd', await pbdOf(host), 'currently-attached');
  /** What a failed command must not have changed: the SRs, PBDs and VDIs the pool knows. */
  const snapshot = async () => ({
    srs: (await x().minimal(['sr-list'])).sort(),
    pbds: (await x().minimal(['pbd-list', 'params=uuid,currently-attached'])).sort(),
    vdis: (await x().minimal(['vdi-list'])).sort(),
  });

  before(async () => {
    pool = await startPool({ name: 'xe-shared-sr', hosts: 3 });
    xe = new Xe(pool.hosts[0]?.handle ?? assert.fail('no master'));
    const byAddress = new Map<string, string>();
    for (const h of await x().minimal(['host-list'])) byAddress.set(await param('host', h, 'address'), h);
    hosts = pool.hosts.map((h) => byAddress.get(h.address) ?? assert.fail(`no host at ${h.address}`));
  });

  after(async () => {
    xe?.cleanup();
    if (pool !== undefined) {
      await pool.stopAll();
      if (anyFailed()) console.error(`xe-shared-sr failed; data dirs kept in ${pool.dir}`);
      else pool.cleanup();
    }
    rmSync(shared, { recursive: true, force: true });
  });

  it(
    'sr-create shared=true makes one attached PBD per host',
    track(async () => {
      const out = await x().ok([
        'sr-create',
        'name-label=Shared storage',
        'type=file',
        'shared=true',
        'content-type=user',
        `host-uuid=${hosts[0]}`,
        `device-config:location=${shared}`,
      ]);
      assert.match(out, UUID);
      sr = out.trim();
      assert.equal(await param('sr', sr, 'shared'), 'true');
      assert.deepEqual(
        (await x().minimal(['pbd-list', `sr-uuid=${sr}`, 'params=host-uuid'])).sort(),
        [...hosts].sort(),
      );
      for (const h of hosts) {
        assert.equal(await attached(h), 'true', `the PBD of ${h} is attached`);
        assert.equal(await param('pbd', await pbdOf(h), 'device-config'), `location: ${shared}`);
      }
    }),
  );

  it(
    'a VDI made through one host is the same file for every host',
    track(async () => {
      vdi = (await x().ok(['vdi-create', `sr-uuid=${sr}`, 'name-label=data', 'virtual-size=64MiB'])).trim();
      assert.ok(existsSync(join(shared, `${vdi}.img`)));
      // With the master's PBD unplugged, VDI operations run on a member that has the SR attached.
      const master = await pbdOf(hosts[0] ?? '');
      assert.equal(await x().ok(['pbd-unplug', `uuid=${master}`]), '');
      assert.equal(await attached(hosts[0] ?? ''), 'false');
      const other = (
        await x().ok(['vdi-create', `sr-uuid=${sr}`, 'name-label=made-by-a-member', 'virtual-size=32MiB'])
      ).trim();
      assert.ok(existsSync(join(shared, `${other}.img`)), 'the member wrote the shared directory');
      assert.equal(await x().ok(['vdi-resize', `uuid=${vdi}`, 'disk-size=128MiB']), '');
      assert.equal(await param('vdi', vdi, 'virtual-size'), String(128 * 1024 ** 2));
      assert.equal(await x().ok(['pbd-plug', `uuid=${master}`]), '');
      assert.equal(await attached(hosts[0] ?? ''), 'true');
      assert.equal(await x().ok(['vdi-destroy', `uuid=${other}`]), '');
      assert.ok(!existsSync(join(shared, `${other}.img`)));
    }),
  );

  it(
    "vm-install puts new disks on the pool's default-SR",
    track(async () => {
      const poolUuid = (await x().ok(['pool-list', '--minimal'])).trim();
      assert.equal(await x().ok(['pool-param-set', `uuid=${poolUuid}`, `default-SR=${sr}`]), '');
      vm = (await x().ok(['vm-install', 'template=Debian Bookworm 12', 'new-name-label=roamer'])).trim();
      const disks = await x().minimal(['vbd-list', `vm-uuid=${vm}`, 'type=Disk', 'params=vdi-uuid']);
      assert.equal(disks.length, 1);
      assert.equal(await param('vdi', disks[0] ?? '', 'sr-uuid'), sr);
      assert.ok(existsSync(join(shared, `${disks[0] ?? ''}.img`)));
    }),
  );

  it(
    'a VM on the shared SR starts on each host in turn; a host running it cannot unplug the SR',
    track(async () => {
      for (const h of hosts) {
        assert.equal(await x().ok(['vm-start', `uuid=${vm}`, `on=${h}`]), '');
        assert.equal(await param('vm', vm, 'resident-on'), h);
        const busy = await x().run(['pbd-unplug', `uuid=${await pbdOf(h)}`]);
        failed(busy, /^This operation cannot be performed because this VDI is in use/);
        assert.equal(await attached(h), 'true', 'the refused unplug changed nothing');
        // Another host's PBD is not in use by this VM: it unplugs and plugs again.
        const other = hosts.find((o) => o !== h) ?? '';
        assert.equal(await x().ok(['pbd-unplug', `uuid=${await pbdOf(other)}`]), '');
        assert.equal(await attached(other), 'false');
        assert.equal(await x().ok(['pbd-plug', `uuid=${await pbdOf(other)}`]), '');
        assert.equal(await attached(other), 'true');
        assert.equal(await x().ok(['vm-shutdown', `uuid=${vm}`, '--force']), '');
      }
      // A host without the SR attached cannot run the VM.
      const member = await pbdOf(hosts[1] ?? '');
      assert.equal(await x().ok(['pbd-unplug', `uuid=${member}`]), '');
      const refused = await x().run(['vm-start', `uuid=${vm}`, `on=${hosts[1] ?? ''}`]);
      assert.equal(refused.code, 1, 'no start without the storage');
      assert.equal(await param('vm', vm, 'power-state'), 'halted');
      assert.equal(await x().ok(['pbd-plug', `uuid=${member}`]), '');
    }),
  );

  it(
    'a restarted member attaches its PBDs again; an offline host cannot be plugged (HOST_OFFLINE)',
    track(async () => {
      assert.ok(pool);
      const [, h2, h3] = pool.hosts;
      assert.ok(h2 && h3);
      // Member 3's PBD unplugged by the administrator, then the host goes down.
      const p3 = await pbdOf(hosts[2] ?? '');
      assert.equal(await x().ok(['pbd-unplug', `uuid=${p3}`]), '');
      await h3.handle.stop();
      const offline = await waitFor('the master to see host 3 gone', 20_000, async () => {
        const r = await x().run(['pbd-plug', `uuid=${p3}`]);
        return r.code === 1 && /could not be contacted/.test(r.stderr) ? r : undefined;
      });
      assert.match(offline.stderr, new RegExp(`host: ${hosts[2] ?? ''}`));
      assert.equal(await attached(hosts[2] ?? ''), 'false');
      // Member 2 restarts with its PBD attached: its daemon and the master attach it again.
      await h2.handle.stop();
      await pool.restart(h2);
      await pool.restart(h3);
      await waitFor('host 2 to run the VM again', 30_000, async () => {
        const r = await x().run(['vm-start', `uuid=${vm}`, `on=${hosts[1] ?? ''}`]);
        return r.code === 0 ? true : undefined;
      });
      assert.equal(await attached(hosts[1] ?? ''), 'true');
      assert.equal(await x().ok(['vm-shutdown', `uuid=${vm}`, '--force']), '');
      assert.equal(await attached(hosts[2] ?? ''), 'false', 'an unplugged PBD stays unplugged');
      await waitFor('host 3 to be back', 30_000, async () => {
        const r = await x().run(['pbd-plug', `uuid=${p3}`]);
        return r.code === 0 ? true : undefined;
      });
      assert.equal(await attached(hosts[2] ?? ''), 'true');
      assert.equal(await x().ok(['vm-start', `uuid=${vm}`, `on=${hosts[2] ?? ''}`]), '');
      assert.equal(await x().ok(['vm-shutdown', `uuid=${vm}`, '--force']), '');
    }),
  );

  it(
    'an ejected host loses its PBD; a joining host gets one for every shared SR, attached',
    track(async () => {
      assert.ok(pool);
      const h3 = pool.hosts[2];
      assert.ok(h3);
      const out = await x().run(['pool-eject', `host-uuid=${hosts[2] ?? ''}`, '--force']);
      assert.equal(out.code, 0, out.stderr);
      assert.deepEqual(
        (await x().minimal(['pbd-list', `sr-uuid=${sr}`, 'params=host-uuid'])).sort(),
        [hosts[0], hosts[1]].sort(),
      );
      const master = pool.hosts[0]?.address ?? '';
      let c: XapiClient | undefined;
      await waitFor('the ejected host to join again', 30_000, async () => {
        try {
          c = await pool?.client(h3.address);
          await c?.callSession('pool.join', master, 'root', TEST_PASSWORD);
          return true;
        } catch (e) {
          if (
            e instanceof XapiCallError &&
            e.code !== 'HOST_IS_SLAVE' &&
            e.code !== 'SESSION_AUTHENTICATION_FAILED'
          )
            throw e;
          return undefined;
        } finally {
          c?.close();
        }
      });
      const joined = await waitFor('the joiner to be in the pool', 30_000, async () => {
        for (const h of await x().minimal(['host-list']))
          if ((await param('host', h, 'address')) === h3.address) return h;
        return undefined;
      });
      hosts[2] = joined;
      await waitFor("the joiner's PBD to be attached", 30_000, async () => {
        const [p] = await x().minimal(['pbd-list', `sr-uuid=${sr}`, `host-uuid=${joined}`]);
        return p !== undefined && (await param('pbd', p, 'currently-attached')) === 'true' ? p : undefined;
      });
      assert.equal(await param('pbd', await pbdOf(joined), 'device-config'), `location: ${shared}`);
      assert.equal(await x().ok(['vm-start', `uuid=${vm}`, `on=${joined}`]), '');
      assert.equal(await x().ok(['vm-shutdown', `uuid=${vm}`, '--force']), '');
    }),
  );

  it(
    'bad input gets a XenAPI error and changes nothing',
    track(async () => {
      const before = await snapshot();
      const notDir = join(shared, '..', `${vdi}-not-a-dir`);
      writeFileSync(notDir, 'x');
      try {
        const create = (...extra: string[]) =>
          x().run(['sr-create', 'name-label=bad', 'shared=true', `host-uuid=${hosts[0] ?? ''}`, ...extra]);
        failed(
          await create('type=file'),
          /^The value given is invalid\.\nfield: device_config:location\nvalue: \n$/,
        );
        failed(
          await create('type=file', `device-config:location=${notDir}`),
          /^There was an SR backend failure\./,
        );
        failed(
          await create('type=file', `device-config:location=${join(notDir, 'below')}`),
          /^There was an SR backend failure\./,
        );
        failed(
          await create('type=file', 'device-config:location=relative/dir'),
          /^The value given is invalid\./,
        );
        failed(
          await create('type=nfs', `device-config:location=${shared}`),
          /^The SR could not be connected because the driver was not recognised\.\ndriver: nfs\n$/,
        );
        failed(
          await create(
            'type=file',
            `device-config:location=${shared}-x`,
            'host-uuid=00000000-0000-0000-0000-000000000000',
          ),
          /uuid you supplied was invalid/i,
        );
        assert.ok(!existsSync(`${shared}-x`), 'nothing was made for a host outside the pool');
        failed(
          await x().run([
            'pbd-create',
            `host-uuid=${hosts[1] ?? ''}`,
            `sr-uuid=${sr}`,
            `device-config:location=${shared}`,
          ]),
          /^A PBD already exists connecting the SR to this host\./,
        );
        // Through the API too: a host reference the pool does not know.
        const c = await pool?.client(pool.hosts[0]?.address ?? '');
        try {
          await assert.rejects(
            c?.callSession(
              'SR.create',
              'OpaqueRef:00000000-0000-0000-0000-000000000000',
              { location: shared },
              0,
              'bad',
              '',
              'file',
              '',
              true,
              {},
            ) ?? Promise.reject(new Error('no client')),
            (e: unknown) => e instanceof XapiCallError && e.code === 'HANDLE_INVALID',
          );
        } finally {
          c?.close();
        }
      } finally {
        rmSync(notDir, { force: true });
      }
      assert.deepEqual(await snapshot(), before);
    }),
  );

  it(
    'sr-forget refuses while attached; sr-introduce, pbd-create, pbd-plug and sr-scan bring the disks back',
    track(async () => {
      assert.match(await x().ok(['vm-uninstall', `uuid=${vm}`, '--force']), /All objects destroyed\n$/);
      failed(await x().run(['sr-forget', `uuid=${sr}`]), HAS_PBD);
      failed(await x().run(['sr-destroy', `uuid=${sr}`]), HAS_PBD);
      for (const h of hosts) assert.equal(await x().ok(['pbd-unplug', `uuid=${await pbdOf(h)}`]), '');
      const poolUuid = (await x().ok(['pool-list', '--minimal'])).trim();
      const mine = await x().minimal(['pbd-list', `host-uuid=${hosts[0] ?? ''}`, 'params=sr-uuid']);
      const local = mine.find((s) => s !== sr) ?? assert.fail('the master has a local SR');
      assert.equal(await x().ok(['pool-param-set', `uuid=${poolUuid}`, `default-SR=${local}`]), '');
      assert.equal(await x().ok(['sr-forget', `uuid=${sr}`]), '');
      assert.deepEqual(await x().minimal(['sr-list', `uuid=${sr}`]), []);
      assert.deepEqual(await x().minimal(['pbd-list', `sr-uuid=${sr}`]), []);
      assert.deepEqual(await x().minimal(['vdi-list', `uuid=${vdi}`]), []);
      assert.ok(existsSync(join(shared, `${vdi}.img`)), 'sr-forget keeps the data');

      assert.equal(
        await x().ok(['sr-introduce', `uuid=${sr}`, 'name-label=Shared storage', 'type=file', 'shared=true']),
        `${sr}\n`,
      );
      for (const h of hosts) {
        const p = await x().ok([
          'pbd-create',
          `host-uuid=${h}`,
          `sr-uuid=${sr}`,
          `device-config:location=${shared}`,
        ]);
        assert.match(p, UUID);
        assert.equal(await x().ok(['pbd-plug', `uuid=${p.trim()}`]), '');
        assert.equal(await attached(h), 'true');
      }
      assert.equal(await x().ok(['sr-scan', `uuid=${sr}`]), '');
      assert.deepEqual(await x().minimal(['vdi-list', `sr-uuid=${sr}`, 'params=uuid']), [vdi]);
      assert.equal(await param('vdi', vdi, 'virtual-size'), String(128 * 1024 ** 2));

      // sr-destroy takes the data too, once every PBD is unplugged.
      for (const h of hosts) assert.equal(await x().ok(['pbd-unplug', `uuid=${await pbdOf(h)}`]), '');
      assert.equal(await x().ok(['sr-destroy', `uuid=${sr}`]), '');
      assert.deepEqual(await x().minimal(['sr-list', `uuid=${sr}`]), []);
      assert.deepEqual(
        readdirSync(shared).filter((f) => f.endsWith('.img')),
        [],
        'sr-destroy removed the disks',
      );
      mkdirSync(shared, { recursive: true });
    }),
  );
});
