// Proves the directory SR creates, stats, clones, resizes and destroys sparse VDIs with the right
// error codes, and that an empty 10 GiB VDI (and its clone) costs almost no physical space.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BugError } from '../../../base/assert.js';
import { StorageError } from '../driver.js';
import { FileSr, VDI_SIZE_MAX } from './file-sr.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const C = 'cccccccc-cccc-4ccc-8ccc-cccccccccccc';

function code(c: StorageError['code']) {
  return (e: unknown) => e instanceof StorageError && e.code === c;
}

async function writeAt(file: string, position: number, text: string): Promise<void> {
  const h = await fs.open(file, 'r+');
  try {
    await h.write(Buffer.from(text), 0, text.length, position);
  } finally {
    await h.close();
  }
}

async function readAt(file: string, position: number, length: number): Promise<string> {
  const h = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    await h.read(buf, 0, length, position);
    return buf.toString();
  } finally {
    await h.close();
  }
}

void describe('FileSr', () => {
  let root: string;
  let sr: FileSr;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'poolstack-sr-'));
    sr = new FileSr({ dir: path.join(root, 'srs', 'local') });
    await sr.attach();
  });

  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  void it('attaches idempotently and reports the filesystem capacity', async () => {
    assert.equal(sr.type, 'ext');
    assert.equal(new FileSr({ dir: root, type: 'nfs' }).type, 'nfs');
    await sr.attach();
    const st = await sr.stat();
    assert.ok(st.physicalSize > 0);
    assert.equal(st.physicalUtilisation, 0);
  });

  void it('creates and stats a VDI, and refuses a duplicate', async () => {
    assert.deepEqual(await sr.vdiCreate(A, MiB), { virtualSize: MiB, physicalUtilisation: 0 });
    assert.deepEqual(await sr.vdiStat(A), { virtualSize: MiB, physicalUtilisation: 0 });
    assert.equal(sr.vdiPath(A), path.join(root, 'srs', 'local', `${A}.img`));
    assert.deepEqual(await sr.vdiList(), [A]);
    await assert.rejects(sr.vdiCreate(A, 2 * MiB), code('VDI_EXISTS'));
    assert.equal((await sr.vdiStat(A)).virtualSize, MiB);
  });

  void it('validates sizes', async () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(sr.vdiCreate(A, bad), code('INVALID_SIZE'));
    }
    await assert.rejects(sr.vdiCreate(A, VDI_SIZE_MAX + 1), code('SR_FULL'));
    assert.deepEqual(await sr.vdiList(), []);
    assert.equal((await sr.vdiCreate(A, 0)).virtualSize, 0);
  });

  void it('keeps a 10 GiB VDI and its clone sparse', async () => {
    const created = await sr.vdiCreate(A, 10 * GiB);
    assert.equal(created.virtualSize, 10 * GiB);
    assert.ok(created.physicalUtilisation < MiB, `uses ${created.physicalUtilisation}`);
    const started = Date.now();
    const clone = await sr.vdiClone(A, B);
    assert.equal(clone.virtualSize, 10 * GiB);
    assert.ok(clone.physicalUtilisation < MiB, `clone uses ${clone.physicalUtilisation}`);
    assert.ok(Date.now() - started < 2000, 'cloning an empty VDI must not read or write 10 GiB');
    const st = await sr.stat();
    assert.ok(st.physicalUtilisation < 2 * MiB);
  });

  void it('clones data into an independent copy, keeping holes', async () => {
    await sr.vdiCreate(A, 64 * MiB);
    await writeAt(sr.vdiPath(A), 0, 'boot sector');
    await writeAt(sr.vdiPath(A), 40 * MiB + 3, 'middle');
    await writeAt(sr.vdiPath(A), 64 * MiB - 4, 'end!');
    const clone = await sr.vdiClone(A, B);
    assert.equal(clone.virtualSize, 64 * MiB);
    assert.ok(clone.physicalUtilisation <= 256 * 1024, `clone uses ${clone.physicalUtilisation}`);
    assert.equal(await readAt(sr.vdiPath(B), 0, 11), 'boot sector');
    assert.equal(await readAt(sr.vdiPath(B), 40 * MiB + 3, 6), 'middle');
    assert.equal(await readAt(sr.vdiPath(B), 64 * MiB - 4, 4), 'end!');
    assert.equal(await readAt(sr.vdiPath(B), 20 * MiB, 4), '\0\0\0\0');
    await writeAt(sr.vdiPath(B), 0, 'BOOT');
    assert.equal(await readAt(sr.vdiPath(A), 0, 4), 'boot');
    const st = await sr.stat();
    assert.equal(
      st.physicalUtilisation,
      (await sr.vdiStat(A)).physicalUtilisation + clone.physicalUtilisation,
    );
  });

  void it('refuses clones from a missing VDI or onto an existing one', async () => {
    await assert.rejects(sr.vdiClone(A, B), code('VDI_MISSING'));
    await sr.vdiCreate(A, MiB);
    await sr.vdiCreate(B, 2 * MiB);
    await assert.rejects(sr.vdiClone(A, B), code('VDI_EXISTS'));
    assert.equal((await sr.vdiStat(B)).virtualSize, 2 * MiB);
    assert.deepEqual(await fs.readdir(path.join(root, 'srs', 'local')), [`${A}.img`, `${B}.img`]);
  });

  void it('grows a VDI, keeps its data, and refuses to shrink', async () => {
    await sr.vdiCreate(A, MiB);
    await writeAt(sr.vdiPath(A), 100, 'data');
    assert.equal((await sr.vdiResize(A, 3 * MiB)).virtualSize, 3 * MiB);
    assert.equal((await sr.vdiResize(A, 3 * MiB)).virtualSize, 3 * MiB);
    await assert.rejects(sr.vdiResize(A, MiB), code('INVALID_SIZE'));
    await assert.rejects(sr.vdiResize(A, -5), code('INVALID_SIZE'));
    await assert.rejects(sr.vdiResize(B, 3 * MiB), code('VDI_MISSING'));
    assert.equal((await sr.vdiStat(A)).virtualSize, 3 * MiB);
    assert.equal(await readAt(sr.vdiPath(A), 100, 4), 'data');
  });

  void it('destroys VDIs and reports missing ones', async () => {
    await sr.vdiCreate(A, MiB);
    await sr.vdiCreate(C, MiB);
    await sr.vdiDestroy(A);
    assert.deepEqual(await sr.vdiList(), [C]);
    await assert.rejects(sr.vdiDestroy(A), code('VDI_MISSING'));
    await assert.rejects(sr.vdiStat(A), code('VDI_MISSING'));
  });

  void it('lists only VDI files and clears interrupted builds on attach', async () => {
    const dir = path.join(root, 'srs', 'local');
    await sr.vdiCreate(B, MiB);
    await fs.writeFile(path.join(dir, 'notes.txt'), 'x');
    await fs.writeFile(path.join(dir, 'not-a-uuid.img'), 'x');
    await fs.writeFile(path.join(dir, `.${A}.123.1.partial`), 'x');
    assert.deepEqual(await sr.vdiList(), [B]);
    await sr.attach();
    assert.deepEqual((await fs.readdir(dir)).sort(), [`${B}.img`, 'not-a-uuid.img', 'notes.txt']);
  });

  void it('treats a non-uuid VDI name as a caller bug', () => {
    assert.throws(() => sr.vdiPath('../../etc/passwd'), BugError);
  });

  void it('reports an unattached SR as an I/O error', async () => {
    const gone = new FileSr({ dir: path.join(root, 'missing') });
    await assert.rejects(gone.vdiList(), code('IO_ERROR'));
    await assert.rejects(gone.stat(), code('IO_ERROR'));
  });
});
