// Proves xe's VDI verbs against a real poolstackd: create, snapshot, clone and copy to a second SR (raw and qcow2), an Async copy whose task progress rises and whose cancellation leaves nothing, and bad inputs that change nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { XapiClient } from '../../src/rpc/client.js';
import { startDaemonProcess, waitFor, type DaemonHandle } from '../../src/testing/daemon-process.js';
import { apiClient, finish, tracker, Xe } from './xe-helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n$/;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

async function writeAt(file: string, position: number, text: string): Promise<void> {
  const h = await fsp.open(file, 'r+');
  try {
    await h.write(Buffer.from(text), 0, text.length, position);
  } finally {
    await h.close();
  }
}

async function readAt(file: string, position: number, length: number): Promise<string> {
  const h = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    await h.read(buf, 0, length, position);
    return buf.toString();
  } finally {
    await h.close();
  }
}

describe('xe vdi verbs', { timeout: 240_000 }, () => {
  let daemon: DaemonHandle | undefined;
  let xe: Xe | undefined;
  let api: XapiClient | undefined;
  const { failed, track } = tracker();
  const dirA = mkdtempSync(join(tmpdir(), 'xe-vdi-a-'));
  const dirB = mkdtempSync(join(tmpdir(), 'xe-vdi-b-'));
  const dirQ = mkdtempSync(join(tmpdir(), 'xe-vdi-q-'));
  let srA = '';
  let srB = '';

  before(async () => {
    daemon = await startDaemonProcess({ name: 'xe-vdi' });
    xe = new Xe(daemon);
    api = await apiClient(daemon);
    const mk = async (dir: string, label: string, extra: string[] = []) =>
      (
        await (xe as Xe).ok([
          'sr-create',
          `name-label=${label}`,
          'type=file',
          `device-config:location=${dir}`,
          ...extra,
        ])
      ).trim();
    srA = await mk(dirA, 'vdi-a');
    srB = await mk(dirB, 'vdi-b');
  });

  after(async () => {
    xe?.cleanup();
    for (const d of [dirA, dirB, dirQ]) rmSync(d, { recursive: true, force: true });
    await finish(daemon, 'xe-vdi', failed());
  });

  const param = async (cls: string, uuid: string, name: string) =>
    (await (xe as Xe).ok([`${cls}-param-get`, `uuid=${uuid}`, `param-name=${name}`])).trim();
  const vdis = async () => (await (xe as Xe).ok(['vdi-list', '--minimal'])).trim().split(',').sort();
  const files = () => [dirA, dirB, dirQ].map((d) => readdirSync(d).sort());
  const ok1 = async (args: string[]) => {
    const out = await (xe as Xe).ok(args);
    assert.match(out, UUID, `${args[0]} prints one uuid`);
    return out.trim();
  };

  it(
    'creates, snapshots, clones and copies a raw VDI to another SR',
    track(async () => {
      assert.ok(xe);
      const vdi = await ok1(['vdi-create', `sr-uuid=${srA}`, 'name-label=disk', 'virtual-size=64MiB']);
      await writeAt(join(dirA, `${vdi}.img`), MiB, 'before');
      const snap = await ok1(['vdi-snapshot', `uuid=${vdi}`]);
      assert.equal(await param('vdi', snap, 'is-a-snapshot'), 'true');
      assert.equal(await param('vdi', snap, 'snapshot-of'), vdi);
      assert.equal(await param('vdi', vdi, 'snapshots'), snap);
      assert.notEqual(await param('vdi', snap, 'snapshot-time'), '19700101T00:00:00Z');
      await writeAt(join(dirA, `${vdi}.img`), MiB, 'after!');
      assert.equal(await readAt(join(dirA, `${snap}.img`), MiB, 6), 'before', 'the snapshot keeps old data');
      const clone = await ok1(['vdi-clone', `uuid=${vdi}`, 'new-name-label=cloned']);
      assert.equal(await param('vdi', clone, 'name-label'), 'cloned');
      assert.equal(await param('vdi', clone, 'is-a-snapshot'), 'false');
      assert.equal(await readAt(join(dirA, `${clone}.img`), MiB, 6), 'after!');
      const copy = await ok1(['vdi-copy', `uuid=${vdi}`, `sr-uuid=${srB}`]);
      assert.equal(await param('vdi', copy, 'sr-uuid'), srB);
      assert.equal(await param('vdi', copy, 'virtual-size'), String(64 * MiB));
      assert.equal(await readAt(join(dirB, `${copy}.img`), MiB, 6), 'after!');
      assert.ok(Number(await param('vdi', copy, 'physical-utilisation')) < MiB, 'holes are kept');
      // Into an existing VDI: it receives the data and keeps its identity.
      const into = await ok1(['vdi-create', `sr-uuid=${srB}`, 'name-label=into', 'virtual-size=128MiB']);
      assert.equal(await xe.ok(['vdi-copy', `uuid=${vdi}`, `into-vdi-uuid=${into}`]), `${into}\n`);
      assert.equal(await readAt(join(dirB, `${into}.img`), MiB, 6), 'after!');
      for (const v of [snap, clone, copy, into]) assert.equal(await xe.ok(['vdi-destroy', `uuid=${v}`]), '');
      assert.deepEqual(files(), [[`${vdi}.img`], [], []]);
    }),
  );

  it(
    'keeps qcow2 snapshots and clones copy-on-write and copies them to a raw SR',
    track(async () => {
      assert.ok(xe);
      const srQ = await ok1([
        'sr-create',
        'name-label=vdi-q',
        'type=file',
        `device-config:location=${dirQ}`,
        'device-config:preferred-image-formats=qcow2',
      ]);
      const vdi = await ok1(['vdi-create', `sr-uuid=${srQ}`, 'name-label=q', 'virtual-size=2GiB']);
      assert.equal(await param('vdi', vdi, 'sm-config'), 'type: qcow2');
      assert.ok(readdirSync(dirQ).includes(`${vdi}.qcow2`));
      const raw = await xe.run([
        'vdi-create',
        `sr-uuid=${srQ}`,
        'name-label=r',
        'virtual-size=1MiB',
        'sm-config:type=raw',
      ]);
      assert.equal(raw.code, 1, 'a qcow2 SR does not hold raw VDIs');
      assert.match(raw.stderr, /holds qcow2 VDIs, not raw/);
      const snap = await ok1(['vdi-snapshot', `uuid=${vdi}`]);
      const clone = await ok1(['vdi-clone', `uuid=${vdi}`]);
      assert.equal(await param('vdi', snap, 'snapshot-of'), vdi);
      assert.equal(readdirSync(dirQ).filter((n) => n.startsWith('.base-')).length, 2, 'two frozen bases');
      assert.equal(await xe.ok(['vdi-resize', `uuid=${vdi}`, 'disk-size=3GiB']), '');
      assert.equal(await param('vdi', vdi, 'virtual-size'), String(3 * GiB));
      assert.equal(await param('vdi', snap, 'virtual-size'), String(2 * GiB));
      const copy = await ok1(['vdi-copy', `uuid=${snap}`, `sr-uuid=${srB}`]);
      assert.ok(readdirSync(dirB).includes(`${copy}.img`));
      assert.equal(await param('vdi', copy, 'virtual-size'), String(2 * GiB));
      assert.equal(await param('vdi', copy, 'sm-config'), '', 'a raw copy is not marked qcow2');
      // The original goes first; the snapshot and clone still read through the bases.
      for (const v of [vdi, snap, clone, copy]) assert.equal(await xe.ok(['vdi-destroy', `uuid=${v}`]), '');
      assert.deepEqual(readdirSync(dirQ), [], 'the last VDI of a chain takes its bases along');
    }),
  );

  it(
    'reports rising progress on an Async copy, and a cancelled copy leaves nothing',
    track(async () => {
      assert.ok(xe && api);
      // Data at both ends makes the copy read the whole 4 GiB, slow enough to watch.
      const big = await ok1(['vdi-create', `sr-uuid=${srA}`, 'name-label=big', 'virtual-size=4GiB']);
      await writeAt(join(dirA, `${big}.img`), 0, 'start');
      await writeAt(join(dirA, `${big}.img`), 4 * GiB - 3, 'end');
      const bigRef = (await api.callSession('VDI.get_by_uuid', big)) as string;
      const srBRef = (await api.callSession('SR.get_by_uuid', srB)) as string;
      const nullRef = 'OpaqueRef:NULL';

      const task = (await api.callSession('Async.VDI.copy', bigRef, srBRef, nullRef, nullRef)) as string;
      const seen: number[] = [];
      const status = await waitFor('the copy task to end', 120_000, async () => {
        const rec = (await api!.callSession('task.get_record', task)) as { status: string; progress: number };
        if (seen.at(-1) !== rec.progress) seen.push(rec.progress);
        return rec.status === 'pending' ? undefined : rec.status;
      });
      assert.equal(status, 'success');
      const between = seen.filter((p) => p > 0 && p < 1);
      assert.ok(between.length >= 2, `progress seen between 0 and 1: ${JSON.stringify(seen)}`);
      assert.deepEqual(
        [...seen].sort((a, b) => a - b),
        seen,
        'progress never goes back',
      );
      assert.equal(seen.at(-1), 1);
      const copyRef = (await api.callSession('task.get_result', task)) as string;
      assert.match(copyRef, /OpaqueRef:/);
      const copyUuid = (await api.callSession('VDI.get_uuid', copyRef.replace(/<[^>]*>/g, ''))) as string;
      assert.equal(await readAt(join(dirB, `${copyUuid}.img`), 4 * GiB - 3, 3), 'end');
      assert.equal(await xe.ok(['vdi-destroy', `uuid=${copyUuid}`]), '');

      const before = { vdis: await vdis(), files: files() };
      const task2 = (await api.callSession('Async.VDI.copy', bigRef, srBRef, nullRef, nullRef)) as string;
      await waitFor('the second copy to make progress', 60_000, async () => {
        const p = (await api!.callSession('task.get_progress', task2)) as number;
        return p > 0.05 ? true : undefined;
      });
      await api.callSession('task.cancel', task2);
      const rec = await waitFor('the cancelled task to end', 60_000, async () => {
        const r = (await api!.callSession('task.get_record', task2)) as {
          status: string;
          error_info: string[];
        };
        return r.status === 'pending' ? undefined : r;
      });
      assert.equal(rec.status, 'cancelled');
      assert.equal(rec.error_info[0], 'TASK_CANCELLED');
      assert.deepEqual({ vdis: await vdis(), files: files() }, before, 'no half VDI: no record, no file');
      assert.equal(await xe.ok(['vdi-destroy', `uuid=${big}`]), '');
    }),
  );

  it(
    'refuses bad sizes, shrinks, missing VDIs and SRs and too small targets, changing nothing',
    track(async () => {
      assert.ok(xe && api);
      const vdi = await ok1(['vdi-create', `sr-uuid=${srA}`, 'name-label=small', 'virtual-size=8MiB']);
      const tiny = await ok1(['vdi-create', `sr-uuid=${srB}`, 'name-label=tiny', 'virtual-size=1MiB']);
      const before = { vdis: await vdis(), files: files() };
      const fail = async (args: string[], stderr: RegExp) => {
        const r = await (xe as Xe).run(args);
        assert.equal(r.code, 1, `${args.join(' ')} must fail`);
        assert.match(r.stderr, stderr);
      };
      const missing = '00000000-0000-4000-8000-000000000000';
      await fail(['vdi-create', `sr-uuid=${srA}`, 'name-label=x', 'virtual-size=-1'], /./);
      await fail(['vdi-create', `sr-uuid=${srA}`, 'name-label=x', 'virtual-size=4096TiB'], /SR is full/);
      await fail(['vdi-resize', `uuid=${vdi}`, 'disk-size=1MiB'], /value given is invalid/);
      await fail(['vdi-snapshot', `uuid=${missing}`], /uuid you supplied was invalid/);
      await fail(['vdi-clone', `uuid=${missing}`], /uuid you supplied was invalid/);
      await fail(['vdi-copy', `uuid=${missing}`, `sr-uuid=${srB}`], /uuid you supplied was invalid/);
      await fail(['vdi-copy', `uuid=${vdi}`, `sr-uuid=${missing}`], /uuid you supplied was invalid/);
      await fail(['vdi-copy', `uuid=${vdi}`], /sr-uuid or into-vdi-uuid/);
      await fail(['vdi-copy', `uuid=${vdi}`, `into-vdi-uuid=${tiny}`], /VDI is too small/);
      const vdiRef = (await api.callSession('VDI.get_by_uuid', vdi)) as string;
      await assert.rejects(
        api.callSession('VDI.copy', vdiRef, 'OpaqueRef:nope', 'OpaqueRef:NULL', 'OpaqueRef:NULL'),
        /HANDLE_INVALID/,
      );
      await assert.rejects(api.callSession('VDI.snapshot', 'OpaqueRef:nope', {}), /HANDLE_INVALID/);
      await assert.rejects(api.callSession('VDI.resize', vdiRef, -1), /INVALID_VALUE/);
      assert.deepEqual({ vdis: await vdis(), files: files() }, before);
      assert.equal(await param('vdi', vdi, 'virtual-size'), String(8 * MiB));
    }),
  );
});
