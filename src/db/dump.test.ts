// Proves the pool dump format reads back exactly what was written, migrates an older schema, and
// refuses a truncated, corrupted, foreign, newer-format or newer-schema file before returning
// anything, each with its own error.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SCHEMA_VERSION } from '../model/schema.js';
import { DumpError, encodeDump, parseDump, type DumpRow } from './dump.js';

const header = {
  schema: SCHEMA_VERSION,
  pool: 'pool-uuid',
  master: 'host-uuid',
  epoch: 1025,
  generation: 77,
  created: '2026-11-26T05:00:00.000Z',
};

function rowsOf(n: number): DumpRow[] {
  return Array.from({ length: n }, (_, i) => ({
    cls: i % 2 === 0 ? 'VM' : 'VDI',
    ref: `OpaqueRef:${i}`,
    ctime: i,
    mtime: i + 1,
    text: JSON.stringify({ uuid: `u${i}`, name_label: `line\nbreak "${i}"` }),
  }));
}

const text = (rows: DumpRow[], h = header) => Buffer.concat([...encodeDump(h, rows)]).toString('utf8');

async function* chunks(s: string, size = 7): AsyncGenerator<string> {
  for (let i = 0; i < s.length; i += size) yield s.slice(i, i + size);
}

async function refused(s: string, code: DumpError['code']): Promise<void> {
  await assert.rejects(parseDump(chunks(s), SCHEMA_VERSION), (e: unknown) => {
    assert.ok(e instanceof DumpError, String(e));
    assert.equal(e.code, code, e.message);
    return true;
  });
}

void describe('pool dump format', () => {
  void it('reads back what it wrote, in chunks of any size', async () => {
    const rows = rowsOf(2500);
    const dump = text(rows);
    for (const size of [1, 13, 4096, dump.length]) {
      const parsed = await parseDump(chunks(dump, size), SCHEMA_VERSION);
      assert.equal(parsed.header.generation, 77);
      assert.equal(parsed.header.rows, 2500);
      assert.deepEqual(
        parsed.rows.map((r) => [r.cls, r.ref, r.ctime, r.mtime, r.text]),
        rows.map((r) => [r.cls, r.ref, r.ctime, r.mtime, r.text]),
      );
    }
    assert.deepEqual((await parseDump(chunks(text([])), SCHEMA_VERSION)).rows, []);
  });

  void it('refuses a truncated file wherever it was cut', async () => {
    const dump = text(rowsOf(50));
    for (const cut of [1, 40, Math.floor(dump.length / 2), dump.length - 5, dump.lastIndexOf('{')])
      await refused(dump.slice(0, cut), cut === 1 ? 'FOREIGN' : 'TRUNCATED');
  });

  void it('refuses a corrupted file', async () => {
    const dump = text(rowsOf(50));
    const i = dump.indexOf('u17');
    await refused(dump.slice(0, i) + 'x' + dump.slice(i + 1), 'CORRUPT');
    const lines = dump.split('\n');
    lines.splice(3, 1); // a whole row missing, checksum recomputed by nobody
    await refused(lines.join('\n'), 'CORRUPT');
    await refused(dump + '[1]\n', 'CORRUPT');
  });

  void it('refuses foreign files, a newer format and a newer schema', async () => {
    await refused('', 'FOREIGN');
    await refused('<?xml version="1.0"?><database><manifest/></database>\n', 'FOREIGN');
    await refused('x'.repeat(10_000), 'FOREIGN');
    await refused('{"hello":1}\n', 'FOREIGN');
    await refused(text(rowsOf(3)).replace('"version":1', '"version":2'), 'UNSUPPORTED_VERSION');
    await refused(text(rowsOf(3), { ...header, schema: SCHEMA_VERSION + 1 }), 'NEWER_SCHEMA');
  });

  void it('migrates rows of schema 1 (before disk leases) to the current schema', async () => {
    const old: DumpRow[] = [
      { cls: 'VDI', ref: 'OpaqueRef:1', ctime: 1, mtime: 1, text: JSON.stringify({ uuid: 'v1' }) },
      { cls: 'VM', ref: 'OpaqueRef:2', ctime: 1, mtime: 1, text: JSON.stringify({ uuid: 'vm' }) },
    ];
    const parsed = await parseDump(chunks(text(old, { ...header, schema: 1 })), SCHEMA_VERSION);
    const vdi = parsed.rows[0];
    assert.equal(vdi?.body.lease_holder, 'OpaqueRef:NULL');
    assert.equal(vdi?.body.lease_epoch, 0);
    assert.equal(JSON.parse(vdi?.text ?? '{}').lease_holder, 'OpaqueRef:NULL');
    assert.equal(parsed.rows[1]?.body.lease_holder, undefined);
  });
});
