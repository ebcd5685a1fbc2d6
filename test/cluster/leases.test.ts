// Proves on real three-host pools with a shared SR that one VM never runs on two hosts: VMs run on
// every host, any VM starts on any host, evacuation and migration carry the leases; a frozen (SIGSTOP) host's VMs, reset by the operator,
// start elsewhere only once that host's leases have expired, and the host stops those domains
// itself when it thaws; a killed host's VMs restart elsewhere after lease expiry plus the
// operator's reset. Every host's own domain table is watched throughout for a VM alive twice.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { aliveDomains } from '../../src/drivers/hypervisor/sim/sim-state.js';
import { XapiCallError, type XapiClient } from '../../src/rpc/client.js';
import { waitFor } from '../../src/testing/daemon-process.js';
import { withPool, type PoolHost, type TestPool } from '../../src/testing/pool.js';
import { createSharedSr, makeVmWithDisk } from '../../src/testing/records.js';

const LEASE_MS = 6000;
const NULL_REF = 'OpaqueRef:NULL';

interface Watch {
  /** VM uuid → the hosts it was seen alive on at one instant, when there were two or more. */
  readonly doubles: Map<string, string[]>;
  /** VM uuid → every host it was ever seen alive on. */
  readonly seen: Map<string, Set<string>>;
  stop(): Promise<void>;
}

/** Reads every host's domain table (what its hypervisor runs) every 20 ms, frozen hosts included. */
function watchDomains(pool: TestPool): Watch {
  const doubles = new Map<string, string[]>();
  const seen = new Map<string, Set<string>>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const now = Date.now();
      const on = new Map<string, string[]>();
      for (const h of pool.hosts) {
        for (const d of aliveDomains(join(h.handle.dataDir, 'sim', 'domains.json'), now)) {
          on.set(d.uuid, [...(on.get(d.uuid) ?? []), h.name]);
          seen.set(d.uuid, (seen.get(d.uuid) ?? new Set()).add(h.name));
        }
      }
      for (const [uuid, hosts] of on) if (hosts.length > 1) doubles.set(uuid, hosts);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    doubles,
    seen,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

interface Setup {
  m: XapiClient;
  sr: string;
  host: (h: PoolHost) => Promise<string>;
  makeVm: (name: string) => Promise<{ vm: string; vdi: string; uuid: string }>;
}

/** A shared SR in a folder every host reaches, and a maker of VMs with one disk on it. */
async function setup(pool: TestPool): Promise<Setup> {
  const m = await pool.client(pool.hosts[0]?.address ?? '');
  const host = async (h: PoolHost) =>
    ((await m.callSession('host.get_by_name_label', h.name)) as string[])[0] ?? '';
  const sr = await createSharedSr(m, await host(pool.hosts[0] as PoolHost), join(pool.dir, 'shared-sr'));
  const pbds = (await m.callSession('SR.get_PBDs', sr)) as string[];
  assert.equal(pbds.length, pool.hosts.length, 'one PBD per host');
  for (const p of pbds) assert.equal(await m.callSession('PBD.get_currently_attached', p), true);
  const makeVm = (name: string) => makeVmWithDisk(m, name, sr);
  return { m, sr, host, makeVm };
}

/** vm-reset-powerstate --force, once the VM's host is found dead (HOST_IS_LIVE until then). */
async function resetWhenDead(m: XapiClient, vm: string): Promise<void> {
  await waitFor('the frozen host to be found dead', 20000, async () => {
    try {
      await m.callSession('VM.power_state_reset', vm);
      return true;
    } catch (e) {
      if (e instanceof XapiCallError && e.code === 'HOST_IS_LIVE') return undefined;
      throw e;
    }
  });
}

const holder = (s: Setup, vdi: string) => s.m.callSession('VDI.get_lease_holder', vdi) as Promise<string>;

/** When `host` last wrote its lease slot for the VDI (its clock: the same machine's here). */
function slotWrittenAt(srDir: string, vdiUuid: string, hostUuid: string): number {
  const text = readFileSync(join(srDir, '.leases', vdiUuid, hostUuid), 'utf8');
  return (JSON.parse(text) as { writtenAt: number }).writtenAt;
}

describe('disk leases on a real three-host pool with a shared SR', { timeout: 180_000 }, () => {
  it(
    'runs VMs on every host, starts any VM on any host, and evacuates and migrates VMs with their leases',
    withPool(
      'leases-any-host',
      3,
      async (pool) => {
        const s = await setup(pool);
        const hosts = await Promise.all(pool.hosts.map((h) => s.host(h)));
        const vms = [await s.makeVm('v0'), await s.makeVm('v1'), await s.makeVm('v2')];
        const watch = watchDomains(pool);
        for (let round = 0; round < 3; round++) {
          for (const [i, v] of vms.entries()) {
            const target = hosts[(i + round) % 3] ?? '';
            await s.m.callSession('VM.start_on', v.vm, target, false, false);
            assert.equal(await s.m.callSession('VM.get_resident_on', v.vm), target);
            await waitFor('the lease to show on the VDI', 10000, async () =>
              (await holder(s, v.vdi)) === target ? true : undefined,
            );
          }
          for (const v of vms) await s.m.callSession('VM.clean_shutdown', v.vm);
          for (const v of vms)
            await waitFor('the lease to be released', 10000, async () =>
              (await holder(s, v.vdi)) === NULL_REF ? true : undefined,
            );
        }
        // Evacuating a host moves its VMs, leases and all, to the others; a migration brings one back.
        const hb = hosts[1] ?? '';
        for (const v of vms) await s.m.callSession('VM.start_on', v.vm, hb, false, false);
        await s.m.callSession('host.evacuate', hb);
        for (const v of vms) {
          assert.equal(await s.m.callSession('VM.get_power_state', v.vm), 'Running');
          assert.notEqual(await s.m.callSession('VM.get_resident_on', v.vm), hb);
        }
        const back = vms[0] as (typeof vms)[0];
        await s.m.callSession('VM.pool_migrate', back.vm, hb, {});
        assert.equal(await s.m.callSession('VM.get_resident_on', back.vm), hb);
        await waitFor('the migrated lease to show on the VDI', 10000, async () =>
          (await holder(s, back.vdi)) === hb ? true : undefined,
        );
        await watch.stop();
        assert.deepEqual([...watch.doubles], []);
        for (const v of vms) assert.equal(watch.seen.get(v.uuid)?.size, 3, 'each VM ran on each host');
        s.m.close();
      },
      { leaseDurationMs: LEASE_MS },
    ),
  );

  it(
    "starts a frozen host's VMs elsewhere only after its leases expire; the host stops them itself when it thaws",
    withPool(
      'leases-sigstop',
      3,
      async (pool) => {
        const [, b, c] = pool.hosts as [PoolHost, PoolHost, PoolHost];
        const s = await setup(pool);
        const [hb, hc] = [await s.host(b), await s.host(c)];
        const v1 = await s.makeVm('frozen-1');
        const v2 = await s.makeVm('frozen-2');
        for (const v of [v1, v2]) await s.m.callSession('VM.start_on', v.vm, hb, false, false);
        for (const v of [v1, v2])
          await waitFor('b to show as the lease holder', 10000, async () =>
            (await holder(s, v.vdi)) === hb ? true : undefined,
          );
        const watch = watchDomains(pool);
        process.kill(b.handle.pid, 'SIGSTOP');
        try {
          for (const v of [v1, v2]) await resetWhenDead(s.m, v.vm);
          // The database now says Halted; the SR still says b holds the disks. The start waits until
          // b's lease has expired (b's slot unchanged for the lease duration), then boots on c.
          const srDir = join(pool.dir, 'shared-sr');
          const bUuid = (await s.m.callSession('host.get_uuid', hb)) as string;
          const vdiUuid = (await s.m.callSession('VDI.get_uuid', v1.vdi)) as string;
          await s.m.callSession('VM.start_on', v1.vm, hc, false, false);
          const booted = Date.now();
          assert.ok(
            booted >= slotWrittenAt(srDir, vdiUuid, bUuid) + LEASE_MS * 0.95,
            'the VM booted elsewhere before the frozen host’s lease expired',
          );
          assert.equal(await s.m.callSession('VM.get_resident_on', v1.vm), hc);
          // Placement picks any other host that sees the SR.
          await s.m.callSession('VM.start', v2.vm, false, false);
          assert.notEqual(await s.m.callSession('VM.get_resident_on', v2.vm), hb);
          assert.deepEqual([...watch.doubles], [], 'a VM was alive on two hosts at once');
        } finally {
          process.kill(b.handle.pid, 'SIGCONT');
        }
        // b thaws, finds its leases gone and stops those domains (its log says so).
        const log = join(b.handle.dataDir, 'logs', 'poolstackd.log');
        await waitFor('b to stop the domains of its lost leases', 20000, () =>
          readFileSync(log, 'utf8').includes('disk lease lost: stopping the domain') ? true : undefined,
        );
        await waitFor('b to rejoin', 20000, async () => {
          const metrics = (await s.m.callSession('host.get_metrics', hb)) as string;
          return (await s.m.callSession('host_metrics.get_live', metrics)) === true ? true : undefined;
        });
        const onB = aliveDomains(join(b.handle.dataDir, 'sim', 'domains.json'), Date.now()).map(
          (d) => d.uuid,
        );
        assert.ok(!onB.includes(v1.uuid) && !onB.includes(v2.uuid), 'b no longer runs them');
        for (const v of [v1, v2]) {
          assert.equal(await s.m.callSession('VM.get_power_state', v.vm), 'Running');
          const at = (await s.m.callSession('VM.get_resident_on', v.vm)) as string;
          await waitFor('the new holder to show on the VDI', 10000, async () =>
            (await holder(s, v.vdi)) === at ? true : undefined,
          );
        }
        await watch.stop();
        assert.deepEqual([...watch.doubles], [], 'a VM was alive on two hosts at once');
        for (const v of [v1, v2])
          assert.equal(watch.seen.get(v.uuid)?.has(b.name), true, 'the watch saw b run it');
        s.m.close();
      },
      { leaseDurationMs: LEASE_MS },
    ),
  );

  it(
    "restarts a killed host's VMs elsewhere after lease expiry plus the operator's reset",
    withPool(
      'leases-kill',
      3,
      async (pool) => {
        const [, b] = pool.hosts as [PoolHost, PoolHost, PoolHost];
        const s = await setup(pool);
        const hb = await s.host(b);
        const v = await s.makeVm('killed');
        await s.m.callSession('VM.start_on', v.vm, hb, false, false);
        const watch = watchDomains(pool);
        await b.handle.kill();
        await resetWhenDead(s.m, v.vm);
        await s.m.callSession('VM.start', v.vm, false, false);
        const at = (await s.m.callSession('VM.get_resident_on', v.vm)) as string;
        assert.notEqual(at, hb);
        // b comes back: its domain's watchdog has fired, so it has nothing to take back.
        await pool.restart(b);
        await waitFor('b to rejoin', 20000, async () => {
          const metrics = (await s.m.callSession('host.get_metrics', hb)) as string;
          return (await s.m.callSession('host_metrics.get_live', metrics)) === true ? true : undefined;
        });
        const onB = aliveDomains(join(b.handle.dataDir, 'sim', 'domains.json'), Date.now()).map(
          (d) => d.uuid,
        );
        assert.ok(!onB.includes(v.uuid));
        assert.equal(await s.m.callSession('VM.get_resident_on', v.vm), at);
        await watch.stop();
        assert.deepEqual([...watch.doubles], []);
        assert.equal(watch.seen.get(v.uuid)?.size, 2, 'the watch saw it on b, then on its new host');
        s.m.close();
      },
      { leaseDurationMs: LEASE_MS },
    ),
  );
});
