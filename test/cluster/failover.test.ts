// Proves on real three-host pools (one poolstackd process per host on loopback) that no
// acknowledged write is lost when the master is killed (-9) or frozen (SIGSTOP) and a member
// takes over, that a returning old master becomes a member by itself, that planned master changes
// under load lose nothing, that refusals name their reason, and that an ejected host comes back
// standalone.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { XapiCallError, type XapiClient } from '../../src/rpc/client.js';
import { aliveDomains } from '../../src/drivers/hypervisor/sim/sim-state.js';
import { waitFor } from '../../src/testing/daemon-process.js';
import { whoIsMaster, withPool, type TestPool } from '../../src/testing/pool.js';
import { makeVmWithDisk, vmFields } from '../../src/testing/records.js';

interface Stream {
  readonly acked: Set<string>;
  readonly refused: Map<string, number>;
  stop(): Promise<void>;
}

/**
 * Writers that create networks on the master without pause; each name is recorded once the call
 * returns. A writer that is told HOST_IS_SLAVE follows the master it names, as clients do.
 */
function writeStream(pool: TestPool, start: string, writers = 4): Stream {
  const acked = new Set<string>();
  const refused = new Map<string, number>();
  let running = true;
  const loops = Array.from({ length: writers }, async (_, w) => {
    let address = start;
    let c: XapiClient | undefined;
    for (let i = 0; running; i++) {
      const name = `w${w}-${i}`;
      try {
        c ??= await pool.client(address, { timeoutMs: 2000 });
        await c.callSession('network.create', {
          name_label: name,
          name_description: '',
          MTU: 1500,
          other_config: {},
        });
        acked.add(name);
      } catch (e) {
        const code = e instanceof XapiCallError ? e.code : 'NETWORK';
        refused.set(code, (refused.get(code) ?? 0) + 1);
        if (e instanceof XapiCallError && e.code === 'HOST_IS_SLAVE' && e.params[0] !== undefined)
          address = e.params[0];
        c?.close();
        c = undefined;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    c?.close();
  });
  return {
    acked,
    refused,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function networkNames(pool: TestPool, master: string): Promise<Set<string>> {
  const c = await pool.client(master);
  try {
    const nets = (await c.callSession('network.get_all_records')) as Record<string, { name_label: string }>;
    return new Set(Object.values(nets).map((n) => n.name_label));
  } finally {
    c.close();
  }
}

function assertAllPresent(acked: Set<string>, present: Set<string>, what: string): void {
  const missing = [...acked].filter((n) => !present.has(n));
  assert.deepEqual(missing, [], `${what}: acknowledged writes missing`);
}

async function apiError(p: Promise<unknown>): Promise<XapiCallError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof XapiCallError) return e;
    throw e;
  }
  assert.fail('the call succeeded');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('master failure and change on a real three-host pool', { timeout: 180_000 }, () => {
  it(
    'kill -9 of the master under writes: emergency transition and recover-slaves lose nothing; the old master rejoins as a member',
    withPool('kill-master', 3, async (pool) => {
      const [a, b, c] = pool.hosts as [
        (typeof pool.hosts)[0],
        (typeof pool.hosts)[0],
        (typeof pool.hosts)[0],
      ];
      const stream = writeStream(pool, a.address);
      await waitFor('some writes', 10000, () => (stream.acked.size >= 40 ? true : undefined));
      await a.handle.kill();
      await sleep(300);
      await stream.stop();
      const local = await pool.client(b.address, { local: true });
      await local.callSession('pool.emergency_transition_to_master');
      local.close();
      const nb = await pool.client(b.address);
      const recovered = (await nb.callSession('pool.recover_slaves')) as string[];
      const cRef = (await nb.callSession('host.get_by_name_label', c.name)) as string[];
      assert.deepEqual(recovered, cRef, 'recover-slaves reports the reachable member');
      nb.close();
      assertAllPresent(stream.acked, await networkNames(pool, b.address), 'after the emergency transition');

      // The old master comes back with the same command line and finds the newer epoch.
      await pool.restart(a);
      assert.equal(await pool.master(), b.address);
      const after = await pool.client(b.address);
      const aRef = ((await after.callSession('host.get_by_name_label', a.name)) as string[])[0];
      await waitFor('the old master to be live again', 15000, async () => {
        const h = (await after.callSession('host.get_record', aRef)) as { metrics: string };
        const m = (await after.callSession('host_metrics.get_record', h.metrics)) as { live: boolean };
        return m.live ? true : undefined;
      });
      await after.callSession('pool.sync_database');
      after.close();
      assertAllPresent(stream.acked, await networkNames(pool, b.address), 'after the old master rejoined');
      console.log(
        `# kill -9: ${stream.acked.size} acknowledged writes, refused ${JSON.stringify([...stream.refused])}`,
      );
    }),
  );

  it(
    'SIGSTOP of the master, forced promotion, SIGCONT: the old master refuses writes and becomes a member; nothing acknowledged is lost',
    withPool('stop-master', 3, async (pool) => {
      const [a, b] = pool.hosts as [(typeof pool.hosts)[0], (typeof pool.hosts)[0]];
      const stream = writeStream(pool, a.address);
      await waitFor('some writes', 10000, () => (stream.acked.size >= 40 ? true : undefined));
      const oldMaster = await pool.client(a.address);
      process.kill(a.handle.pid, 'SIGSTOP');
      await sleep(300);
      const local = await pool.client(b.address, { local: true });
      await local.callSession('pool.emergency_transition_to_master', true);
      local.close();
      const nb = await pool.client(b.address);
      await nb.callSession('pool.recover_slaves');
      nb.close();
      await stream.stop();
      process.kill(a.handle.pid, 'SIGCONT');
      // The old master's writes are refused: it holds no quorum any more, then it steps down.
      const refusal = await apiError(
        oldMaster.callSession('network.create', {
          name_label: 'after-sigcont',
          name_description: '',
          MTU: 1500,
          other_config: {},
        }),
      );
      assert.ok(
        ['POOL_QUORUM_UNREACHABLE', 'POOL_WRITE_NOT_CONFIRMED', 'HOST_IS_SLAVE'].includes(refusal.code),
        `old master's write refused with ${refusal.code}`,
      );
      oldMaster.close();
      assert.equal(await pool.master(), b.address);
      const names = await networkNames(pool, b.address);
      assertAllPresent(stream.acked, names, 'after the forced promotion');
      assert.ok(!names.has('after-sigcont'), 'the refused write is not in the pool');
      console.log(`# SIGSTOP: ${stream.acked.size} acknowledged writes`);
    }),
  );

  it(
    'designate-new-master back and forth under load loses nothing and is idempotent',
    withPool('designate', 3, async (pool) => {
      const [a, b] = pool.hosts as [(typeof pool.hosts)[0], (typeof pool.hosts)[0]];
      const stream = writeStream(pool, a.address);
      await waitFor('some writes', 10000, () => (stream.acked.size >= 20 ? true : undefined));
      const hop = async (from: string, to: string, name: string) => {
        const c = await pool.client(from);
        const ref = ((await c.callSession('host.get_by_name_label', name)) as string[])[0];
        await c.callSession('pool.designate_new_master', ref);
        c.close();
        assert.equal(await pool.master(), to);
        // Designating the master it already is changes nothing.
        const n = await pool.client(to);
        await n.callSession('pool.designate_new_master', ref);
        n.close();
        const before = stream.acked.size;
        await waitFor('writes to continue on the new master', 10000, () =>
          stream.acked.size >= before + 10 ? true : undefined,
        );
      };
      await hop(a.address, b.address, b.name);
      await hop(b.address, a.address, a.name);
      await hop(a.address, b.address, b.name);
      await stream.stop();
      assertAllPresent(stream.acked, await networkNames(pool, b.address), 'after three hand-overs');
      console.log(
        `# designate: ${stream.acked.size} acknowledged writes, refused ${JSON.stringify([...stream.refused])}`,
      );
    }),
  );

  it(
    'refuses an emergency transition while the master answers, and names the member that holds newer data',
    withPool('refusals', 3, async (pool) => {
      const [a, b, c] = pool.hosts as [
        (typeof pool.hosts)[0],
        (typeof pool.hosts)[0],
        (typeof pool.hosts)[0],
      ];
      const lb = await pool.client(b.address, { local: true });
      const still = await apiError(lb.callSession('pool.emergency_transition_to_master'));
      assert.equal(still.code, 'MASTER_STILL_ANSWERS');
      assert.deepEqual(still.params, [a.address]);
      lb.close();
      // b stops; a and c go on writing; a dies; b comes back behind c.
      await b.handle.kill();
      const m = await pool.client(a.address);
      for (let i = 0; i < 5; i++)
        await m.callSession('network.create', {
          name_label: `late${i}`,
          name_description: '',
          MTU: 1500,
          other_config: {},
        });
      const cUuid = (await m.callSession(
        'host.get_uuid',
        ((await m.callSession('host.get_by_name_label', c.name)) as string[])[0],
      )) as string;
      m.close();
      await a.handle.kill();
      await pool.restart(b);
      const lb2 = await pool.client(b.address, { local: true });
      const newer = await apiError(lb2.callSession('pool.emergency_transition_to_master'));
      assert.equal(newer.code, 'HOST_HOLDS_NEWER_DATABASE');
      assert.equal(newer.params[0], cUuid);
      lb2.close();
      const lc = await pool.client(c.address, { local: true });
      await lc.callSession('pool.emergency_transition_to_master');
      lc.close();
      // b follows c by itself and catches up: every write a and c held is there.
      await waitFor('b to follow c', 20000, async () =>
        (await whoIsMaster(b.address, pool.port)) === c.address ? true : undefined,
      );
      const names = await networkNames(pool, c.address);
      for (let i = 0; i < 5; i++) assert.ok(names.has(`late${i}`));
    }),
  );

  it(
    'ejects a host, which comes back as a standalone host; forgets a dead one',
    withPool('eject', 3, async (pool) => {
      const [a, b, c] = pool.hosts as [
        (typeof pool.hosts)[0],
        (typeof pool.hosts)[0],
        (typeof pool.hosts)[0],
      ];
      const m = await pool.client(a.address);
      const bRef = ((await m.callSession('host.get_by_name_label', b.name)) as string[])[0];
      await m.callSession('pool.eject', bRef);
      const standalone = await waitFor('the ejected host to be standalone', 15000, async () =>
        (await whoIsMaster(b.address, pool.port)) === b.address ? true : undefined,
      );
      assert.ok(standalone);
      const eb = await pool.client(b.address);
      assert.equal(((await eb.callSession('host.get_all')) as string[]).length, 1);
      eb.close();
      assert.equal(((await m.callSession('host.get_all')) as string[]).length, 2);
      // host-forget refuses a live host, then forgets it once it is dead.
      const cRef = ((await m.callSession('host.get_by_name_label', c.name)) as string[])[0];
      assert.equal((await apiError(m.callSession('host.destroy', cRef))).code, 'HOST_IS_LIVE');
      await c.handle.kill();
      await waitFor('c to be dead', 15000, async () => {
        try {
          await m.callSession('host.destroy', cRef);
          return true;
        } catch (e) {
          // Live until its heartbeats stop counting; then, in this two-host pool, writes wait for
          // degraded mode (the other host must be found unreachable first).
          if (e instanceof XapiCallError && ['HOST_IS_LIVE', 'POOL_QUORUM_UNREACHABLE'].includes(e.code))
            return undefined;
          throw e;
        }
      });
      assert.equal(((await m.callSession('host.get_all')) as string[]).length, 1);
      m.close();
    }),
  );
});

describe('a two-host pool with one host down', { timeout: 120_000 }, () => {
  it(
    'stays writable in visible degraded mode, refuses an unforced promotion, and leaves the mode when the host is back',
    withPool('two-hosts', 2, async (pool) => {
      const [a, b] = pool.hosts as [(typeof pool.hosts)[0], (typeof pool.hosts)[0]];
      await b.handle.kill();
      const m = await pool.client(a.address);
      const poolRef = ((await m.callSession('pool.get_all')) as string[])[0];
      await waitFor('a write to be accepted again', 20000, async () => {
        try {
          await m.callSession('network.create', {
            name_label: 'degraded',
            name_description: '',
            MTU: 1500,
            other_config: {},
          });
          return true;
        } catch (e) {
          if (e instanceof XapiCallError) return undefined;
          throw e;
        }
      });
      assert.equal(await m.callSession('pool.get_replication_degraded', poolRef), true);
      await pool.restart(b);
      await waitFor('degraded mode to end', 20000, async () =>
        (await m.callSession('pool.get_replication_degraded', poolRef)) === false ? true : undefined,
      );
      await m.callSession('pool.sync_database');
      m.close();
      // With the master gone, the member alone is not a majority of two: it must be forced.
      await a.handle.kill();
      const lb = await pool.client(b.address, { local: true });
      const refusal = await apiError(lb.callSession('pool.emergency_transition_to_master'));
      assert.equal(refusal.code, 'POOL_QUORUM_UNREACHABLE');
      await lb.callSession('pool.emergency_transition_to_master', true);
      lb.close();
      assert.ok((await networkNames(pool, b.address)).has('degraded'));
    }),
  );
});

describe('VMs on pool members', { timeout: 120_000 }, () => {
  it(
    'boots a VM on the member whose SR holds its disk, stops it there, and still does after the master changes',
    withPool('member-vms', 3, async (pool) => {
      const [a, b] = pool.hosts as [(typeof pool.hosts)[0], (typeof pool.hosts)[0]];
      const m = await pool.client(a.address);
      const hostRef = async (c: XapiClient, name: string) =>
        ((await c.callSession('host.get_by_name_label', name)) as string[])[0] ?? '';
      const [ha, hb] = [await hostRef(m, a.name), await hostRef(m, b.name)];
      const pbds = (await m.callSession('PBD.get_all_records')) as Record<
        string,
        { host: string; SR: string }
      >;
      const localSr = (h: string) => Object.values(pbds).find((p) => p.host === h)?.SR ?? '';
      const makeVm = async (c: XapiClient, name: string, sr: string) =>
        (await makeVmWithDisk(c, name, sr)).vm;
      const onB = await makeVm(m, 'on-b', localSr(hb));
      const onA = await makeVm(m, 'on-a', localSr(ha));
      // Only b sees its local SR: the VM is placed there, and start_on elsewhere is refused.
      await m.callSession('VM.start', onB, false, false);
      assert.equal(await m.callSession('VM.get_resident_on', onB), hb);
      assert.equal(await m.callSession('VM.get_power_state', onB), 'Running');
      // The domain is b's: its simulated hypervisor holds it, a's does not.
      const uuidB = (await m.callSession('VM.get_uuid', onB)) as string;
      const simDomains = (h: (typeof pool.hosts)[0]) => {
        const f = join(h.handle.dataDir, 'sim', 'domains.json');
        return existsSync(f) ? readFileSync(f, 'utf8') : '';
      };
      assert.ok(simDomains(b).includes(uuidB));
      assert.ok(!simDomains(a).includes(uuidB));
      const simAlive = (h: (typeof pool.hosts)[0]) =>
        aliveDomains(join(h.handle.dataDir, 'sim', 'domains.json'), Date.now()).map((d) => d.uuid);
      await m.callSession('VM.clean_shutdown', onB);
      assert.equal(await m.callSession('VM.get_power_state', onB), 'Halted');
      assert.equal(
        (await apiError(m.callSession('VM.start_on', onB, ha, false, false))).code,
        'VM_REQUIRES_SR',
      );
      await m.callSession('VM.start_on', onB, hb, false, false);
      // A VM without disks has no lease (and no watchdog) to stop it: only reconciliation can.
      const diskless = (await m.callSession('VM.create', vmFields('diskless-on-b'))) as string;
      await m.callSession('VM.start_on', diskless, hb, false, false);
      const uuidD = (await m.callSession('VM.get_uuid', diskless)) as string;
      // b dies with the VMs running; the operator resets them. The VM with a disk is stopped by
      // its lease watchdog; when b comes back, the master destroys the diskless VM's domain, so
      // neither can run twice.
      await b.handle.kill();
      await waitFor('b to be found dead', 20000, async () => {
        try {
          await m.callSession('VM.power_state_reset', onB);
          await m.callSession('VM.power_state_reset', diskless);
          return true;
        } catch (e) {
          if (e instanceof XapiCallError && e.code === 'HOST_IS_LIVE') return undefined;
          throw e;
        }
      });
      assert.equal(await m.callSession('VM.get_power_state', onB), 'Halted');
      assert.ok(simDomains(b).includes(uuidD), 'the dead host still holds the domain');
      await pool.restart(b);
      await waitFor('the stale domains on b to be gone', 20000, () =>
        simAlive(b).includes(uuidB) || simAlive(b).includes(uuidD) ? undefined : true,
      );
      await m.callSession('VM.start_on', onB, hb, false, false);
      // b becomes master; the VM on a's SR now boots on a member, and b's VM keeps running.
      await m.callSession('pool.designate_new_master', hb);
      m.close();
      assert.equal(await pool.master(), b.address);
      const n = await pool.client(b.address);
      await n.callSession('VM.start', onA, false, false);
      assert.equal(await n.callSession('VM.get_resident_on', onA), ha);
      await n.callSession('VM.hard_shutdown', onA);
      await n.callSession('VM.hard_shutdown', onB);
      assert.equal(await n.callSession('VM.get_power_state', onB), 'Halted');
      n.close();
    }),
  );
});
