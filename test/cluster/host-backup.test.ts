// Proves the guide's "host software or configuration corrupted" procedure on a real three-host
// pool: xe host-backup saves a member's configuration and xe host-restore keeps it on the host
// (another host's backup refused); its data directory is wrecked; a corrupted
// backup is refused with nothing touched; poolstackd --restore-host-backup rebuilds the data
// directory (the wrecked one moved aside), the host is back in its pool with the same uuid as a
// member, and restarting with the same command line does not restore again.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import type { XapiClient } from '../../src/rpc/client.js';
import { waitFor } from '../../src/testing/daemon-process.js';
import { whoIsMaster, withPool, type PoolHost } from '../../src/testing/pool.js';
import { Xe } from '../compat/xe-helpers.js';

const live = async (m: XapiClient, host: string) =>
  m.callSession('host_metrics.get_live', await m.callSession('host.get_metrics', host));

describe('host configuration backup and restore', { timeout: 180_000 }, () => {
  it(
    'brings a wrecked member back as the same host from its backup',
    withPool('host-backup', 3, async (pool) => {
      const [a, b] = pool.hosts as [PoolHost, PoolHost, PoolHost];
      const m = await pool.client(a.address);
      const hb = ((await m.callSession('host.get_by_name_label', b.name)) as string[])[0] ?? '';
      const uuid = (await m.callSession('host.get_uuid', hb)) as string;
      const xe = new Xe(a.handle);
      const file = join(pool.dir, 'b.host-backup');
      await xe.ok(['host-backup', `host=${b.name}`, `file-name=${file}`]);
      await xe.ok(['host-backup', `host=${a.name}`, `file-name=${join(pool.dir, 'a.host-backup')}`]);
      const missing = await xe.run(['host-backup', 'host=nobody', `file-name=${join(pool.dir, 'x')}`]);
      assert.equal(missing.code, 1);
      assert.ok(!existsSync(join(pool.dir, 'x')));

      // xe host-restore keeps the checked backup on its host; another host's backup is refused.
      const wrong = await xe.run([
        'host-restore',
        `host=${b.name}`,
        `file-name=${join(pool.dir, 'a.host-backup')}`,
      ]);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stdout + wrong.stderr, /not of this host/);
      const staged = join(b.handle.dataDir, 'host-backup.restore');
      assert.match(
        await xe.ok(['host-restore', `host=${b.name}`, `file-name=${file}`]),
        /--restore-host-backup/,
      );
      assert.equal(readFileSync(staged, 'utf8'), readFileSync(file, 'utf8'));

      // The host's configuration is wrecked: its database overwritten, its certificates gone.
      await b.handle.kill();
      const dataDir = b.handle.dataDir;
      writeFileSync(join(dataDir, 'state.db'), 'garbage');
      rmSync(join(dataDir, 'tls'), { recursive: true, force: true });

      // A corrupted backup is refused before anything is touched.
      const good = readFileSync(file, 'utf8');
      const bad = join(pool.dir, 'bad.host-backup');
      writeFileSync(
        bad,
        good.replace(
          uuid,
          uuid.replace(/^./, (x) => (x === 'a' ? 'b' : 'a')),
        ),
      );
      await assert.rejects(pool.startWith(b, ['--restore-host-backup', bad]));
      assert.equal(readFileSync(join(dataDir, 'state.db'), 'utf8'), 'garbage');
      assert.deepEqual(
        readdirSync(dirname(dataDir)).filter((n) => n.includes('before-restore')),
        [],
      );

      // The staged backup: the host is back, as itself, a member of its pool.
      await pool.startWith(b, ['--restore-host-backup', staged]);
      assert.ok(
        readdirSync(dirname(dataDir)).some((n) => n.includes('before-restore')),
        'the wrecked dir is kept',
      );
      await waitFor('b to be live in the pool again', 30000, async () =>
        (await live(m, hb)) === true ? true : undefined,
      );
      assert.equal(await m.callSession('host.get_by_uuid', uuid), hb);
      assert.equal(await whoIsMaster(b.address, pool.port), a.address);
      assert.equal(((await m.callSession('host.get_all')) as string[]).length, 3);

      // Restarting with the same command line does not restore again.
      await b.handle.stop();
      await pool.startWith(b, ['--restore-host-backup', staged]);
      assert.equal(readdirSync(dirname(dataDir)).filter((n) => n.includes('before-restore')).length, 1);
      await waitFor('b to be live again', 30000, async () =>
        (await live(m, hb)) === true ? true : undefined,
      );
      xe.cleanup();
      m.close();
    }),
  );
});
