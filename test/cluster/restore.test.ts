// Proves the guide's "whole pool lost" procedure with Poolstack's commands on real daemons: a
// three-host pool running VMs on a shared SR is dumped with xe pool-dump-database, every data
// directory is destroyed, and on the reinstalled machines truncated, corrupted, foreign and
// newer-schema files (and a restore over a running VM, and a second restore while one is
// receiving its dump) are refused with nothing changed, a dry run prints the plan and changes
// nothing (for a dump of an older schema too, migrated as it is read), the restore (in-process,
// no reboot) brings the storage and the VMs back on one host, the others join, and the VMs start.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { encodeDump, parseDump } from '../../src/db/dump.js';
import { SCHEMA_VERSION } from '../../src/model/schema.js';
import type { XapiClient } from '../../src/rpc/client.js';
import { TEST_PASSWORD, waitFor } from '../../src/testing/daemon-process.js';
import { withPool, type PoolHost } from '../../src/testing/pool.js';
import { createSharedSr, makeVmWithDisk, vmFields } from '../../src/testing/records.js';
import { Xe } from '../compat/xe-helpers.js';

/** What a refused restore must leave exactly as it was. */
async function state(c: XapiClient): Promise<string> {
  const pools = (await c.callSession('pool.get_all_records')) as Record<string, { uuid: string }>;
  const hosts = (await c.callSession('host.get_all_records')) as Record<string, { uuid: string }>;
  const vms = (await c.callSession('VM.get_all_records')) as Record<
    string,
    { uuid: string; power_state: string }
  >;
  const srs = (await c.callSession('SR.get_all_records')) as Record<string, { uuid: string }>;
  return JSON.stringify({
    pools: Object.values(pools).map((p) => p.uuid),
    hosts: Object.values(hosts).map((h) => h.uuid),
    vms: Object.values(vms)
      .map((v) => `${v.uuid}:${v.power_state}`)
      .sort(),
    srs: Object.values(srs)
      .map((s) => s.uuid)
      .sort(),
  });
}

describe('restoring a whole pool from a database dump', { timeout: 240_000 }, () => {
  it(
    'brings storage and VMs back on reinstalled hosts, and refuses bad files',
    withPool('restore-whole-pool', 3, async (pool) => {
      const [a, b, c] = pool.hosts as [PoolHost, PoolHost, PoolHost];
      let m = await pool.client(a.address);
      const hostRef = async (cl: XapiClient, h: PoolHost) =>
        ((await cl.callSession('host.get_by_name_label', h.name)) as string[])[0] ?? '';
      const sr = await createSharedSr(m, await hostRef(m, a), join(pool.dir, 'shared-sr'));
      const srUuid = (await m.callSession('SR.get_uuid', sr)) as string;
      const [poolRef] = (await m.callSession('pool.get_all')) as string[];
      await m.callSession('pool.set_default_SR', poolRef, sr);
      const poolUuid = (await m.callSession('pool.get_uuid', poolRef)) as string;
      const vms = [];
      for (const [i, h] of [a, b, c].entries()) {
        const v = await makeVmWithDisk(m, `vm-${i}`, sr);
        await m.callSession('VM.start_on', v.vm, await hostRef(m, h), false, false);
        vms.push(v);
      }
      const oldUuids = await Promise.all(
        [b, c].map(async (h) => m.callSession('host.get_uuid', await hostRef(m, h))),
      );
      const dump = join(pool.dir, 'pool-database.dump');
      let xe = new Xe(a.handle);
      await xe.ok(['pool-dump-database', `file-name=${dump}`]);
      xe.cleanup();
      m.close();

      // The whole pool is lost: every machine is reinstalled (data directories wiped).
      for (const h of pool.hosts) await pool.reinstall(h);
      m = await pool.client(a.address);
      xe = new Xe(a.handle);
      const before = await state(m);
      const good = readFileSync(dump, 'utf8');
      const bad: Array<[string, string, RegExp]> = [
        ['truncated', good.slice(0, Math.floor(good.length * 0.6)), /truncated/],
        [
          'corrupted',
          good.replace(
            srUuid,
            srUuid.replace(/^./, (x) => (x === 'a' ? 'b' : 'a')),
          ),
          /corrupted/,
        ],
        ['foreign', '<?xml version="1.0"?><database/>\n', /not a Poolstack pool database dump/],
        ['newer', good.replace(/"schema":\d+/, '"schema":999'), /different \(incompatible\) product version/],
      ];
      for (const [name, text, why] of bad) {
        const f = join(pool.dir, `${name}.dump`);
        writeFileSync(f, text);
        const r = await xe.run(['pool-restore-database', `file-name=${f}`, '--force']);
        assert.equal(r.code, 1, `${name}: ${r.stdout}`);
        assert.match(r.stdout + r.stderr, why, name);
        assert.equal(await state(m), before, `${name}: the refused restore changed something`);
      }
      // A VM running on the restoring host that the dump does not know: refused, nothing changed.
      const stray = (await m.callSession('VM.create', vmFields('stray'))) as string;
      await m.callSession('VM.start', stray, false, false);
      const withStray = await state(m);
      const refused = await xe.run(['pool-restore-database', `file-name=${dump}`, '--force']);
      assert.equal(refused.code, 1);
      assert.match(refused.stdout + refused.stderr, /shut them down first/);
      assert.equal(await state(m), withStray);
      await m.callSession('VM.hard_shutdown', stray);
      await m.callSession('VM.destroy', stray);

      // A restore still receiving its dump holds the database: another is refused meanwhile, and
      // when that dump turns out truncated it lets go, with nothing changed. (A real restore of a
      // file that is not a dump is refused at once: it probes which answer the daemon gives.)
      const probe = async (): Promise<string> => {
        try {
          await m.transfer(
            'PUT',
            '/pool/xmldbdump',
            { session_id: m.session ?? '', dry_run: 'false' },
            Readable.from(['not a dump\n']),
          );
          return 'accepted';
        } catch (e) {
          return String((e as { code?: string }).code);
        }
      };
      const slow = new PassThrough();
      const first = m.transfer(
        'PUT',
        '/pool/xmldbdump',
        { session_id: m.session ?? '', dry_run: 'false' },
        slow,
      );
      const firstRefused = first.then(
        () => 'accepted',
        (e: unknown) => String((e as { code?: string }).code),
      );
      slow.write(good.slice(0, Math.floor(good.length / 2)));
      await waitFor('the first restore holds the database', 20000, async () =>
        (await probe()) === 'OTHER_OPERATION_IN_PROGRESS' ? true : undefined,
      );
      slow.end();
      assert.equal(await firstRefused, 'RESTORE_INVALID_BACKUP');
      await waitFor('the refused restore let go', 20000, async () =>
        (await probe()) === 'RESTORE_INVALID_BACKUP' ? true : undefined,
      );
      assert.equal(await state(m), before, 'the abandoned restore changed something');

      // Without --force the restore is refused; the dry run says what it would do and does nothing.
      const unforced = await xe.run(['pool-restore-database', `file-name=${dump}`]);
      assert.equal(unforced.code, 1);
      assert.match(unforced.stdout + unforced.stderr, /must be forced/);
      const dry = await xe.ok(['pool-restore-database', `file-name=${dump}`, 'dry-run=true']);
      assert.match(dry, /^Dry-run backup restore successful/);
      for (const u of oldUuids)
        assert.ok(dry.includes(String(u)), `the dry run names host ${String(u)} to re-join`);
      for (const v of vms) assert.ok(dry.includes(v.uuid), `the dry run names VM ${v.uuid} as reset`);
      assert.equal(await state(m), before, 'the dry run changed something');

      // A dump from the schema before disk leases (no lease fields on VDIs) is migrated as it is
      // read, then checked: its dry run plans the same restore.
      const current = await parseDump(Readable.from([good]), SCHEMA_VERSION);
      const schema1 = current.rows.map((r) => {
        const body = { ...r.body };
        if (r.cls === 'VDI') for (const k of ['lease_holder', 'lease_epoch', 'lease_expires']) delete body[k];
        return { cls: r.cls, ref: r.ref, ctime: r.ctime, mtime: r.mtime, text: JSON.stringify(body) };
      });
      assert.ok(current.rows.some((r) => r.cls === 'VDI' && 'lease_holder' in r.body));
      const oldDump = join(pool.dir, 'schema-1.dump');
      writeFileSync(oldDump, Buffer.concat([...encodeDump({ ...current.header, schema: 1 }, schema1)]));
      const dryOld = await xe.ok(['pool-restore-database', `file-name=${oldDump}`, 'dry-run=true']);
      assert.equal(
        dryOld,
        dry.replace(/, schema \d+\)/, ', schema 1)'),
        'the schema-1 dump plans a different restore',
      );
      assert.equal(await state(m), before, 'the dry run of the schema-1 dump changed something');

      // The restore, in-process: the same session keeps working.
      const myUuid = (await m.callSession('host.get_uuid', await hostRef(m, a))) as string;
      await xe.ok(['pool-restore-database', `file-name=${dump}`, '--force']);
      const [restoredPool] = (await m.callSession('pool.get_all')) as string[];
      assert.equal(await m.callSession('pool.get_uuid', restoredPool), poolUuid);
      const me = (await m.callSession('host.get_by_uuid', myUuid)) as string;
      assert.equal(await m.callSession('pool.get_master', restoredPool), me);
      assert.equal(await m.callSession('pool.get_default_SR', restoredPool), sr);
      const pbds = (await m.callSession('SR.get_PBDs', sr)) as string[];
      const mine = [];
      for (const p of pbds) if ((await m.callSession('PBD.get_host', p)) === me) mine.push(p);
      assert.equal(mine.length, 1);
      assert.equal(await m.callSession('PBD.get_currently_attached', mine[0]), true);
      for (const v of vms) assert.equal(await m.callSession('VM.get_power_state', v.vm), 'Halted');
      const messages = (await m.callSession('message.get_all_records')) as Record<string, { name: string }>;
      assert.ok(!Object.values(messages).some((x) => x.name === 'DEFAULT_SR_INVALID'));

      // The other reinstalled machines join the restored pool and the VMs start on every host.
      for (const h of [b, c]) {
        const j = await pool.client(h.address);
        await j.callSession('pool.join', a.address, 'root', TEST_PASSWORD);
        j.close();
      }
      await waitFor('the joiners to be connected', 30000, async () => {
        const hosts = (await m.callSession('host.get_all')) as string[];
        if (hosts.length !== 3) return undefined;
        for (const h of [b, c]) {
          const ref = await hostRef(m, h);
          if (ref === '') return undefined;
          const p = (await m.callSession('SR.get_PBDs', sr)) as string[];
          let plugged = false;
          for (const x of p)
            if ((await m.callSession('PBD.get_host', x)) === ref)
              plugged = (await m.callSession('PBD.get_currently_attached', x)) === true;
          if (!plugged) return undefined;
        }
        return true;
      });
      for (const [i, h] of [a, b, c].entries()) {
        const v = vms[i] as (typeof vms)[0];
        await m.callSession('VM.start_on', v.vm, await hostRef(m, h), false, false);
        assert.equal(await m.callSession('VM.get_power_state', v.vm), 'Running');
      }
      xe.cleanup();
      m.close();
    }),
  );
});
