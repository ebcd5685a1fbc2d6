// Proves the master's scheduled metadata backups on a real daemon: with the pool's other-config
// set, complete, checksummed dumps of the current pool appear in the directory at the interval,
// only the last K are kept, and a directory that cannot be written or a bad setting is reported
// as a pool message (xe message-list) instead of failing silently.
import assert from 'node:assert/strict';
import { createReadStream, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseDump } from '../../src/db/dump.js';
import { SCHEMA_VERSION } from '../../src/model/schema.js';
import { XapiClient } from '../../src/rpc/client.js';
import { startDaemonProcess, TEST_PASSWORD, waitFor } from '../../src/testing/daemon-process.js';

describe('scheduled metadata backups', { timeout: 90_000 }, () => {
  it('writes dumps at the interval, keeps the last K, and reports failures as pool messages', async () => {
    const d = await startDaemonProcess({ name: 'scheduled-backups' });
    let ok = false;
    const c = new XapiClient(d.httpUrl, { timeoutMs: 15000 });
    try {
      await c.login('root', TEST_PASSWORD);
      const [pool] = (await c.callSession('pool.get_all')) as string[];
      const poolUuid = (await c.callSession('pool.get_uuid', pool)) as string;
      const dir = join(d.dataDir, 'backups');
      const set = (k: string, v: string) =>
        c
          .callSession('pool.remove_from_other_config', pool, k)
          .then(() => c.callSession('pool.add_to_other_config', pool, k, v));
      await set('metadata-backup-dir', dir);
      await set('metadata-backup-keep', '2');
      await set('metadata-backup-interval-minutes', '0.02'); // every 1.2 s
      const dumps = () => {
        try {
          return readdirSync(dir)
            .filter((n) => n.endsWith('.dump'))
            .sort();
        } catch {
          return [];
        }
      };
      // A change between backups shows up in the next one.
      await waitFor('a first backup', 20000, () => (dumps().length >= 1 ? true : undefined));
      await c.callSession('network.create', {
        name_label: 'after-first',
        name_description: '',
        MTU: 1500,
        other_config: {},
      });
      const seen = new Set<string>();
      await waitFor('two more backups', 30000, () => {
        for (const n of dumps()) seen.add(n);
        return seen.size >= 3 ? true : undefined;
      });
      // Each new dump is renamed into place before the oldest is removed (never fewer than K
      // complete dumps), so a third one can be seen for a moment; then only the last 2 remain.
      await waitFor('the oldest dumps removed', 20000, () => (dumps().length <= 2 ? true : undefined));
      const latest = dumps().at(-1) ?? '';
      const parsed = await parseDump(createReadStream(join(dir, latest)), SCHEMA_VERSION);
      assert.equal(parsed.header.pool, poolUuid);
      assert.ok(parsed.rows.some((r) => r.cls === 'network' && r.body.name_label === 'after-first'));
      assert.ok(!readdirSync(dir).some((n) => n.endsWith('.partial')));

      // A directory that cannot be created, then a bad interval: each is a pool message.
      const blocker = join(d.dataDir, 'not-a-dir');
      writeFileSync(blocker, 'x');
      await set('metadata-backup-dir', join(blocker, 'backups'));
      const messages = async () =>
        Object.values(
          (await c.callSession('message.get_all_records')) as Record<string, { name: string; body: string }>,
        ).filter((m) => m.name === 'METADATA_BACKUP_FAILED');
      await waitFor('a failure message', 20000, async () =>
        (await messages()).length >= 1 ? true : undefined,
      );
      assert.match((await messages())[0]?.body ?? '', /not-a-dir/);
      await set('metadata-backup-interval-minutes', 'soon');
      await waitFor('a message about the setting', 20000, async () =>
        (await messages()).some((m) => /not a positive number/.test(m.body)) ? true : undefined,
      );
      ok = true;
    } finally {
      c.close();
      await d.stop();
      if (ok) d.cleanup();
      else console.log(`# scheduled-backups: kept ${d.dataDir}`);
    }
  });
});
