// Proves on a real three-host pool that VM.start places VMs by memory, start_on and migrate refuse unfit hosts with xapi's errors and change nothing, vm-migrate really moves the domain between hosts' hypervisors and back, and host-evacuate empties a member and the master, or refuses before moving anything when a VM cannot fit.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { XapiCallError, type XapiClient } from '../../src/rpc/client.js';
import { startPool, type PoolHost, type TestPool } from '../../src/testing/pool.js';
import { makeVmWithDisk, vmFields } from '../../src/testing/records.js';
import { Xe } from '../compat/xe-helpers.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

async function apiError(p: Promise<unknown>): Promise<XapiCallError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof XapiCallError) return e;
    throw e;
  }
  assert.fail('the call succeeded');
}

/** The VM uuids the simulated hypervisor of `h` holds a domain for (its persisted table). */
function domainsOn(h: PoolHost): string {
  const f = join(h.handle.dataDir, 'sim', 'domains.json');
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
}

describe('placement, migration and evacuation on a real three-host pool', { timeout: 240_000 }, () => {
  let pool: TestPool;
  let m: XapiClient;
  let xe: Xe;
  let hosts: PoolHost[];
  const ref: Record<string, string> = {};
  const hostUuid: Record<string, string> = {};
  let ok = false;

  /** A diskless VM of `gib` GiB (or the 256 MiB of vmFields). */
  const makeVm = async (name: string, gib?: number): Promise<string> => {
    const f = vmFields(name);
    if (gib !== undefined) {
      for (const k of ['memory_static_min', 'memory_dynamic_min', 'memory_dynamic_max', 'memory_static_max'])
        f[k] = gib * GiB;
    }
    return (await m.callSession('VM.create', f)) as string;
  };
  const residentOn = async (vm: string) => (await m.callSession('VM.get_resident_on', vm)) as string;
  const powerState = async (vm: string) => (await m.callSession('VM.get_power_state', vm)) as string;
  const uuidOf = async (vm: string) => (await m.callSession('VM.get_uuid', vm)) as string;
  const stopAll = async (vms: string[]) => {
    for (const vm of vms)
      if ((await powerState(vm)) !== 'Halted') await m.callSession('VM.hard_shutdown', vm);
  };
  /** Which test host's hypervisor holds the VM's domain, asserting it is exactly one. */
  const domainHost = async (vm: string): Promise<string> => {
    const uuid = await uuidOf(vm);
    const holders = hosts.filter((h) => domainsOn(h).includes(uuid)).map((h) => h.name);
    assert.equal(holders.length, 1, `exactly one hypervisor runs ${uuid}: ${holders.join(',')}`);
    return holders[0] ?? '';
  };

  before(async () => {
    pool = await startPool({ name: 'evacuate', hosts: 3 });
    hosts = pool.hosts;
    m = await pool.client(hosts[0]?.address ?? '');
    for (const h of hosts) {
      const r = ((await m.callSession('host.get_by_name_label', h.name)) as string[])[0] ?? '';
      ref[h.name] = r;
      hostUuid[h.name] = (await m.callSession('host.get_uuid', r)) as string;
    }
    xe = new Xe(hosts[0]?.handle as PoolHost['handle']);
  });

  after(async () => {
    m?.close();
    xe?.cleanup();
    await Promise.all((pool?.hosts ?? []).map((h) => h.handle.stop()));
    if (ok) pool.cleanup();
    else if (pool !== undefined) console.log(`# evacuate: kept the data dirs in ${pool.dir}`);
  });

  it('VM.start places by memory: the master first, then the host with most free memory; none ⇒ NO_HOSTS_AVAILABLE', async () => {
    const [a, b, c] = hosts.map((h) => h.name) as [string, string, string];
    const big = [await makeVm('big-1', 13), await makeVm('big-2', 13), await makeVm('big-3', 13)];
    const extra = await makeVm('big-4', 13);
    await m.callSession('VM.start', big[0], false, false);
    assert.equal(await residentOn(big[0] as string), ref[a], 'the master is preferred');
    await m.callSession('VM.start', big[1], false, false);
    await m.callSession('VM.start', big[2], false, false);
    const placed = [await residentOn(big[1] as string), await residentOn(big[2] as string)].sort();
    assert.deepEqual(placed, [ref[b], ref[c]].sort(), 'the full master is passed over, one VM per member');
    for (const vm of big)
      assert.equal(ref[await domainHost(vm)], await residentOn(vm), 'the domain is where the DB says');
    const refusal = await apiError(m.callSession('VM.start', extra, false, false));
    assert.equal(refusal.code, 'NO_HOSTS_AVAILABLE');
    assert.equal(await powerState(extra), 'Halted');
    assert.deepEqual(await m.callSession('VM.get_possible_hosts', extra), []);
    // start_on a full host names the memory; assert_can_boot_here agrees and changes nothing.
    const onA = await apiError(m.callSession('VM.start_on', extra, ref[a], false, false));
    assert.equal(onA.code, 'HOST_NOT_ENOUGH_FREE_MEMORY');
    assert.equal(onA.params[0], String(13 * GiB));
    assert.ok(Number(onA.params[1]) < 13 * GiB);
    const probe = await apiError(m.callSession('VM.assert_can_boot_here', extra, ref[a]));
    assert.deepEqual([probe.code, probe.params], [onA.code, onA.params]);
    assert.equal(await residentOn(extra), 'OpaqueRef:NULL');
    await stopAll([...big, extra]);
    assert.deepEqual(
      ((await m.callSession('VM.get_possible_hosts', extra)) as string[]).sort(),
      [ref[a], ref[b], ref[c]].sort(),
    );
    ok = true;
  });

  it('concurrent starts count each other’s reservations: three 8 GiB VMs started at once land on three hosts', async () => {
    ok = false;
    const vms = [await makeVm('c-1', 8), await makeVm('c-2', 8), await makeVm('c-3', 8)];
    await Promise.all(vms.map((vm) => m.callSession('VM.start', vm, false, false)));
    const placed = new Set(await Promise.all(vms.map(residentOn)));
    assert.deepEqual([...placed].sort(), Object.values(ref).sort());
    const fourth = await makeVm('c-4', 8);
    assert.equal(
      (await apiError(m.callSession('VM.start', fourth, false, false))).code,
      'NO_HOSTS_AVAILABLE',
    );
    await stopAll(vms);
    ok = true;
  });

  it('start_on refuses a disabled host and a host that cannot see the VM disk, with xapi errors', async () => {
    ok = false;
    const [, b, c] = hosts.map((h) => h.name) as [string, string, string];
    const vm = await makeVm('refused');
    await m.callSession('host.disable', ref[c], true);
    try {
      const e = await apiError(m.callSession('VM.start_on', vm, ref[c], false, false));
      assert.deepEqual([e.code, e.params], ['HOST_DISABLED', [ref[c]]]);
      // A plain start never lands on the disabled host.
      await m.callSession('VM.start', vm, false, false);
      assert.notEqual(await residentOn(vm), ref[c]);
      await m.callSession('VM.hard_shutdown', vm);
    } finally {
      await m.callSession('host.enable', ref[c]);
    }
    // A VM whose disk is on b's local SR may only run on b.
    const pbds = (await m.callSession('PBD.get_all_records')) as Record<string, { host: string; SR: string }>;
    const srB = Object.values(pbds).find((p) => p.host === ref[b])?.SR ?? '';
    const { vm: onB } = await makeVmWithDisk(m, 'local-b', srB);
    const e = await apiError(m.callSession('VM.start_on', onB, ref[c], false, false));
    assert.deepEqual([e.code, e.params], ['VM_REQUIRES_SR', [onB, srB]]);
    assert.deepEqual(await m.callSession('VM.get_possible_hosts', onB), [ref[b]]);
    await m.callSession('VM.start', onB, false, false);
    assert.equal(await residentOn(onB), ref[b]);
    // Such a VM cannot be migrated away either, and the refusal changes nothing.
    const mig = await apiError(m.callSession('VM.pool_migrate', onB, ref[c], { live: 'true' }));
    assert.deepEqual([mig.code, mig.params], ['VM_REQUIRES_SR', [onB, srB]]);
    assert.equal(await residentOn(onB), ref[b]);
    assert.equal(await domainHost(onB), b);
    await stopAll([vm, onB]);
    await m.callSession('VM.destroy', onB);
    ok = true;
  });

  it('xe vm-migrate moves the domain to a member and back; bad targets are refused and change nothing', async () => {
    ok = false;
    const [a, b, c] = hosts.map((h) => h.name) as [string, string, string];
    const vm = await makeVm('mover');
    const uuid = await uuidOf(vm);
    await m.callSession('VM.start_on', vm, ref[a], false, false);
    assert.equal(await domainHost(vm), a);
    const allowed = (await m.callSession('VM.get_allowed_operations', vm)) as string[];
    assert.ok(allowed.includes('pool_migrate'), 'a running VM advertises pool_migrate');
    await xe.ok(['vm-migrate', `uuid=${uuid}`, `host=${b}`, 'live=true']);
    assert.equal(await residentOn(vm), ref[b]);
    assert.equal(await powerState(vm), 'Running');
    assert.equal(await domainHost(vm), b, "b's hypervisor runs it and a's no longer does");
    assert.deepEqual(
      await xe.minimal(['vm-list', `resident-on=${hostUuid[b]}`, 'is-control-domain=false', 'params=uuid']),
      [uuid],
    );
    assert.deepEqual(
      await xe.minimal(['vm-list', `resident-on=${hostUuid[a]}`, 'is-control-domain=false']),
      [],
    );
    await xe.ok(['vm-migrate', `vm=${uuid}`, `host-uuid=${hostUuid[a]}`]);
    assert.equal(await residentOn(vm), ref[a]);
    assert.equal(await domainHost(vm), a);
    // Same host: nothing to do.
    await m.callSession('VM.pool_migrate', vm, ref[a], {});
    assert.equal(await domainHost(vm), a);
    // A disabled target, a wrong ref, a halted VM: refused, the VM stays where it runs.
    await m.callSession('host.disable', ref[c], true);
    try {
      const e = await apiError(m.callSession('VM.pool_migrate', vm, ref[c], {}));
      assert.deepEqual([e.code, e.params], ['HOST_DISABLED', [ref[c]]]);
      const r = await xe.run(['vm-migrate', `uuid=${uuid}`, `host=${c}`]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr + r.stdout, /disabled/i);
    } finally {
      await m.callSession('host.enable', ref[c]);
    }
    const bad = await apiError(m.callSession('VM.pool_migrate', vm, 'OpaqueRef:nonexistent', {}));
    assert.equal(bad.code, 'HANDLE_INVALID');
    assert.equal(await residentOn(vm), ref[a]);
    assert.equal(await domainHost(vm), a);
    await m.callSession('VM.hard_shutdown', vm);
    const halted = await apiError(m.callSession('VM.pool_migrate', vm, ref[b], {}));
    assert.deepEqual([halted.code, halted.params], ['VM_BAD_POWER_STATE', [vm, 'running', 'halted']]);
    ok = true;
  });

  it('host-evacuate moves every VM off a member and off the master; a VM that fits nowhere stops it before anything moves', async () => {
    ok = false;
    const [a, b, c] = hosts.map((h) => h.name) as [string, string, string];
    const vms = [await makeVm('ev-1', 2), await makeVm('ev-2', 3), await makeVm('ev-3')];
    for (const vm of vms) await m.callSession('VM.start_on', vm, ref[b], false, false);
    assert.deepEqual(await m.callSession('host.get_vms_which_prevent_evacuation', ref[b]), {});
    await xe.ok(['host-disable', `uuid=${hostUuid[b]}`]);
    await xe.ok(['host-evacuate', `uuid=${hostUuid[b]}`]);
    for (const vm of vms) {
      assert.equal(await powerState(vm), 'Running');
      assert.notEqual(await residentOn(vm), ref[b]);
      assert.notEqual(await domainHost(vm), b);
    }
    assert.deepEqual(
      await xe.minimal(['vm-list', `resident-on=${hostUuid[b]}`, 'is-control-domain=false']),
      [],
    );
    await xe.ok(['host-enable', `uuid=${hostUuid[b]}`]);

    // The master: its VMs go to the members, the master keeps serving the API.
    for (const vm of vms)
      if ((await residentOn(vm)) !== ref[a]) await m.callSession('VM.pool_migrate', vm, ref[a], {});
    await m.callSession('host.evacuate', ref[a]);
    for (const vm of vms) {
      assert.equal(await powerState(vm), 'Running');
      assert.notEqual(await domainHost(vm), a);
    }
    await stopAll(vms);

    // b runs a 13 GiB VM, a and c are nearly full: it fits nowhere, so nothing moves.
    const [onA, onB, onC] = [
      await makeVm('fill-a', 13),
      await makeVm('heavy-b', 13),
      await makeVm('fill-c', 13),
    ];
    const small = await makeVm('small-b');
    await m.callSession('VM.start_on', onA, ref[a], false, false);
    await m.callSession('VM.start_on', onB, ref[b], false, false);
    await m.callSession('VM.start_on', onC, ref[c], false, false);
    await m.callSession('VM.start_on', small, ref[b], false, false);
    const preventing = (await m.callSession('host.get_vms_which_prevent_evacuation', ref[b])) as Record<
      string,
      string[]
    >;
    assert.deepEqual(preventing, { [onB]: ['HOST_NOT_ENOUGH_FREE_MEMORY', onB] });
    const e = await apiError(m.callSession('host.evacuate', ref[b]));
    assert.deepEqual([e.code, e.params], ['HOST_NOT_ENOUGH_FREE_MEMORY', [onB]]);
    assert.equal(await residentOn(small), ref[b], 'the VM that would fit was not moved either');
    assert.equal(await domainHost(small), b);
    assert.equal(await domainHost(onB), b);
    // With every other host disabled there is nowhere to go at all.
    await m.callSession('host.disable', ref[b], true);
    await m.callSession('host.disable', ref[c], true);
    try {
      const none = await apiError(m.callSession('host.evacuate', ref[a]));
      assert.deepEqual([none.code, none.params], ['NO_HOSTS_AVAILABLE', [onA]]);
      assert.equal(await domainHost(onA), a);
    } finally {
      await m.callSession('host.enable', ref[b]);
      await m.callSession('host.enable', ref[c]);
    }
    await stopAll([onA, onB, onC, small]);
    ok = true;
  });
});
