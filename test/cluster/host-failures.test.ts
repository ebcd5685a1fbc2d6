// Proves the guide's host-failure procedures with xe on real three-host pools: a failed member's
// VMs stay Running in the database until vm-reset-powerstate --force or host-declare-dead, then
// start on another host; when the master fails, a member takes over (emergency transition and
// recover-slaves), the new master checks default-SR and says when it is unusable, pool-param-set
// fixes it, the old master's VMs are reset and restarted elsewhere, and the repaired old master,
// installed fresh, joins as a member and is not made master.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { XapiClient } from '../../src/rpc/client.js';
import { TEST_PASSWORD, waitFor } from '../../src/testing/daemon-process.js';
import { whoIsMaster, withPool, type PoolHost, type TestPool } from '../../src/testing/pool.js';
import { createSharedSr, makeVmWithDisk } from '../../src/testing/records.js';
import { Xe } from '../compat/xe-helpers.js';

const NULL_REF = 'OpaqueRef:NULL';

const sharedSr = (pool: TestPool, m: XapiClient, host: string) =>
  createSharedSr(m, host, join(pool.dir, 'shared-sr'));

const hostRef = async (m: XapiClient, h: PoolHost) =>
  ((await m.callSession('host.get_by_name_label', h.name)) as string[])[0] ?? '';

async function dead(m: XapiClient, host: string): Promise<void> {
  await waitFor('the host to be found dead', 30000, async () => {
    const metrics = (await m.callSession('host.get_metrics', host)) as string;
    return (await m.callSession('host_metrics.get_live', metrics)) === false ? true : undefined;
  });
}

describe('host failures on a real three-host pool', { timeout: 240_000 }, () => {
  it(
    "keeps a failed member's VMs Running until reset or declared dead, then starts them elsewhere",
    withPool('failed-member', 3, async (pool) => {
      const [a, b, c] = pool.hosts as [PoolHost, PoolHost, PoolHost];
      const m = await pool.client(a.address);
      const sr = await sharedSr(pool, m, await hostRef(m, a));
      const hb = await hostRef(m, b);
      const v1 = await makeVmWithDisk(m, 'reset-me', sr);
      const v2 = await makeVmWithDisk(m, 'declare-dead', sr);
      for (const v of [v1, v2]) await m.callSession('VM.start_on', v.vm, hb, false, false);
      await b.handle.kill();
      await dead(m, hb);
      // As the guide warns: the database still says Running.
      for (const v of [v1, v2]) {
        assert.equal(await m.callSession('VM.get_power_state', v.vm), 'Running');
        assert.equal(await m.callSession('VM.get_resident_on', v.vm), hb);
      }
      const xe = new Xe(a.handle);
      const unforced = await xe.run(['vm-reset-powerstate', `uuid=${v1.uuid}`]);
      assert.equal(unforced.code, 1);
      assert.match(unforced.stdout + unforced.stderr, /must be forced/);
      assert.equal(await m.callSession('VM.get_power_state', v1.vm), 'Running');
      await xe.ok(['vm-reset-powerstate', `uuid=${v1.uuid}`, '--force']);
      const rec = (await m.callSession('VM.get_record', v1.vm)) as Record<string, unknown>;
      assert.equal(rec.power_state, 'Halted');
      assert.equal(rec.resident_on, NULL_REF);
      assert.deepEqual(rec.current_operations, {});
      for (const vbd of rec.VBDs as string[])
        assert.equal(await m.callSession('VBD.get_currently_attached', vbd), false);
      // host-declare-dead resets every VM of the host (after its warning, confirmed with --force).
      const bUuid = (await m.callSession('host.get_uuid', hb)) as string;
      await xe.ok(['host-declare-dead', `uuid=${bUuid}`, '--force']);
      assert.equal(await m.callSession('VM.get_power_state', v2.vm), 'Halted');
      // Both start on another host (once b's disk leases have expired).
      for (const v of [v1, v2]) {
        await m.callSession('VM.start', v.vm, false, false);
        assert.notEqual(await m.callSession('VM.get_resident_on', v.vm), hb);
      }
      assert.notEqual(await hostRef(m, c), '');
      xe.cleanup();
      m.close();
    }),
  );

  it(
    'replaces a failed master, checks default-SR, restarts its VMs, and takes the repaired old master back as a member',
    withPool('failed-master', 3, async (pool) => {
      const [a, b, c] = pool.hosts as [PoolHost, PoolHost, PoolHost];
      let m = await pool.client(a.address);
      const ha = await hostRef(m, a);
      const sr = await sharedSr(pool, m, ha);
      const srUuid = (await m.callSession('SR.get_uuid', sr)) as string;
      // An easy mistake that bites after the master fails: the default SR is the master's local SR.
      const pbds = (await m.callSession('PBD.get_all_records')) as Record<
        string,
        { host: string; SR: string }
      >;
      const localA = Object.values(pbds).find((p) => p.host === ha && p.SR !== sr)?.SR ?? '';
      const [poolRef] = (await m.callSession('pool.get_all')) as string[];
      await m.callSession('pool.set_default_SR', poolRef, localA);
      const v = await makeVmWithDisk(m, 'on-master', sr);
      await m.callSession('VM.start_on', v.vm, ha, false, false);
      m.close();

      await a.handle.kill();
      const xb = new Xe(b.handle);
      await xb.ok(['pool-emergency-transition-to-master']);
      await xb.ok(['pool-recover-slaves']);
      await waitFor('c to follow b', 20000, async () =>
        (await whoIsMaster(c.address, pool.port)) === b.address ? true : undefined,
      );
      m = await pool.client(b.address);
      const poolUuid = (await m.callSession('pool.get_uuid', poolRef)) as string;
      const invalid = async () =>
        Object.values(
          (await m.callSession('message.get_all_records')) as Record<string, { name: string; body: string }>,
        ).filter((x) => x.name === 'DEFAULT_SR_INVALID');
      await waitFor('the new master to flag the default SR', 20000, async () =>
        (await invalid()).length > 0 ? true : undefined,
      );
      assert.match((await invalid())[0]?.body ?? '', /xe pool-param-set/);
      const shown = await xb.ok(['pool-param-get', `uuid=${poolUuid}`, 'param-name=default-SR']);
      assert.notEqual(shown.trim(), srUuid);
      await xb.ok(['pool-param-set', `uuid=${poolUuid}`, `default-SR=${srUuid}`]);
      assert.equal(
        (await xb.ok(['pool-param-get', `uuid=${poolUuid}`, 'param-name=default-SR'])).trim(),
        srUuid,
      );

      // The old master's VM: reset once a is found dead, then restarted on a running host.
      await dead(m, ha);
      await xb.ok(['vm-reset-powerstate', `uuid=${v.uuid}`, '--force']);
      await m.callSession('VM.start', v.vm, false, false);
      const at = (await m.callSession('VM.get_resident_on', v.vm)) as string;
      assert.ok([await hostRef(m, b), await hostRef(m, c)].includes(at));

      // The old master, repaired and installed fresh, joins as a member; b stays master.
      await pool.reinstall(a);
      const j = await pool.client(a.address);
      await j.callSession('pool.join', b.address, 'root', TEST_PASSWORD);
      j.close();
      assert.equal(await pool.master(), b.address);
      assert.equal(await whoIsMaster(a.address, pool.port), b.address);
      assert.equal(((await m.callSession('host.get_all')) as string[]).length, 3);
      xb.cleanup();
      m.close();
    }),
  );
});
