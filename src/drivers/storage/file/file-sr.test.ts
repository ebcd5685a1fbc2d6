// Proves the directory SR creates, stats, clones, resizes, copies and destroys sparse raw and qcow2
// VDIs with the right error codes (qcow2 clones and snapshots copy-on-write and independent), and
// that an empty 10 GiB VDI (and its clone) costs almost no physical space.
import { execFileSync } from 'node:child_process';
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BugError } from '../../../base/assert.js';
import { StorageError } from '../driver.js';
import { FileSr, VDI_SIZE_MAX, formatFromDeviceConfig } from './file-sr.js';

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

function hasQemuImg(): boolean {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore', timeout: 10_000 });
    execFileSync('qemu-io', ['--version'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}
const qemu = hasQemuImg();
const skipQcow2 = qemu
  ? false
  : 'qemu-img/qemu-io not installed (Debian package qemu-utils; .ci/run installs it)';

/** Writes 4 KiB of `byte` at `offset` into a qcow2 image, as a guest would. */
function qWrite(file: string, offset: number, byte: number): void {
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -P ${byte} ${offset} 4k`, file], {
    stdio: 'ignore',
    timeout: 30_000,
  });
}

/** True when the guest sees 4 KiB of `byte` at `offset`. */
function qHas(file: string, offset: number, byte: number): boolean {
  try {
    const out = execFileSync('qemu-io', ['-f', 'qcow2', '-r', '-c', `read -P ${byte} ${offset} 4k`, file], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    return !out.includes('verification failed');
  } catch {
    return false;
  }
}

void describe('FileSr qcow2', { skip: skipQcow2 }, () => {
  let root: string;
  let dir: string;
  let sr: FileSr;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'poolstack-qcow2-'));
    dir = path.join(root, 'sr');
    sr = new FileSr({ dir, format: 'qcow2' });
    await sr.attach();
  });

  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  void it('reads the format from device-config and refuses unknown ones', () => {
    assert.equal(formatFromDeviceConfig({ location: '/x' }), 'raw');
    assert.equal(formatFromDeviceConfig({ 'preferred-image-formats': 'qcow2,vhd' }), 'qcow2');
    assert.throws(() => formatFromDeviceConfig({ 'preferred-image-formats': 'vhd' }), code('UNSUPPORTED'));
  });

  void it('creates, stats, lists, resizes (grow only) and destroys a qcow2 VDI', async () => {
    const st = await sr.vdiCreate(A, 10 * GiB);
    assert.equal(st.virtualSize, 10 * GiB);
    assert.equal(st.format, 'qcow2');
    assert.ok(st.physicalUtilisation < MiB, `uses ${st.physicalUtilisation}`);
    assert.equal(sr.vdiPath(A), path.join(dir, `${A}.qcow2`));
    assert.deepEqual(await sr.vdiList(), [A]);
    await assert.rejects(sr.vdiCreate(A, MiB), code('VDI_EXISTS'));
    await assert.rejects(sr.vdiCreate(B, MiB, 'raw'), code('UNSUPPORTED'));
    await assert.rejects(sr.vdiCreate(B, -1), code('INVALID_SIZE'));
    qWrite(sr.vdiPath(A), 0, 0x41);
    assert.equal((await sr.vdiResize(A, 12 * GiB)).virtualSize, 12 * GiB);
    await assert.rejects(sr.vdiResize(A, GiB), code('INVALID_SIZE'));
    assert.equal((await sr.vdiStat(A)).virtualSize, 12 * GiB);
    assert.ok(qHas(sr.vdiPath(A), 0, 0x41), 'data survives the resize');
    await sr.vdiDestroy(A);
    assert.deepEqual(await fs.readdir(dir), []);
    await assert.rejects(sr.vdiDestroy(A), code('VDI_MISSING'));
  });

  void it('clones copy-on-write: writes to either side stay on that side', async () => {
    await sr.vdiCreate(A, 64 * MiB);
    qWrite(sr.vdiPath(A), 0, 0x41);
    const clone = await sr.vdiClone(A, B);
    assert.equal(clone.virtualSize, 64 * MiB);
    assert.ok(clone.physicalUtilisation < MiB, 'the clone is an empty overlay');
    assert.ok(qHas(sr.vdiPath(B), 0, 0x41), 'the clone sees the data');
    qWrite(sr.vdiPath(B), 0, 0x42);
    qWrite(sr.vdiPath(B), 8192, 0x43);
    assert.ok(qHas(sr.vdiPath(A), 0, 0x41), 'writing the clone leaves the source alone');
    assert.ok(qHas(sr.vdiPath(A), 8192, 0), 'writing the clone leaves the source alone');
    assert.deepEqual(await sr.vdiList(), [A, B]);
    await assert.rejects(sr.vdiClone(C, B), code('VDI_MISSING'));
    await assert.rejects(sr.vdiClone(A, B), code('VDI_EXISTS'));
    assert.ok(qHas(sr.vdiPath(B), 0, 0x42), 'a refused clone changes nothing');
  });

  void it('keeps a snapshot stable while the original is written, under the same path', async () => {
    await sr.vdiCreate(A, 64 * MiB);
    const pathBefore = sr.vdiPath(A);
    qWrite(pathBefore, 4096, 0x11);
    await sr.vdiClone(A, B); // B is the snapshot
    assert.equal(sr.vdiPath(A), pathBefore, 'the hypervisor keeps using the same path');
    qWrite(sr.vdiPath(A), 4096, 0x22);
    assert.ok(qHas(sr.vdiPath(B), 4096, 0x11), 'the snapshot keeps the old data');
    assert.ok(qHas(sr.vdiPath(A), 4096, 0x22), 'the original has the new data');
    // A second snapshot of the same disk freezes the newer data on top of the first base.
    await sr.vdiClone(A, C);
    qWrite(sr.vdiPath(A), 4096, 0x33);
    assert.ok(qHas(sr.vdiPath(C), 4096, 0x22));
    assert.ok(qHas(sr.vdiPath(B), 4096, 0x11));
  });

  void it('destroys any VDI of a chain and removes bases only when no image needs them', async () => {
    await sr.vdiCreate(A, 64 * MiB);
    qWrite(sr.vdiPath(A), 0, 0x41);
    await sr.vdiClone(A, B);
    qWrite(sr.vdiPath(A), 0, 0x42);
    await sr.vdiClone(A, C);
    const bases = async () => (await fs.readdir(dir)).filter((n) => n.startsWith('.base-')).length;
    assert.equal(await bases(), 2);
    // The first snapshot goes; A and C still read through both bases.
    await sr.vdiDestroy(B);
    assert.equal(await bases(), 2);
    assert.ok(qHas(sr.vdiPath(C), 0, 0x42));
    // The original goes while its snapshot C stays: C still reads the data.
    await sr.vdiDestroy(A);
    assert.ok(qHas(sr.vdiPath(C), 0, 0x42), 'the snapshot outlives its original');
    assert.deepEqual(await sr.vdiList(), [C]);
    await sr.vdiDestroy(C);
    assert.deepEqual(await fs.readdir(dir), [], 'the last VDI takes the whole chain with it');
  });

  void it('copies between raw and qcow2 SRs with progress, and cancels leaving nothing', async () => {
    const rawSr = new FileSr({ dir: path.join(root, 'raw') });
    await rawSr.attach();
    await rawSr.vdiCreate(A, 32 * MiB);
    await writeAt(rawSr.vdiPath(A), 5 * MiB, 'hello');
    const seen: number[] = [];
    const st = await sr.vdiImport(B, await rawSr.vdiSource(A), { onProgress: (f) => seen.push(f) });
    assert.equal(st.virtualSize, 32 * MiB);
    assert.equal(seen.at(-1), 1);
    const back = await rawSr.vdiImport(C, await sr.vdiSource(B));
    assert.equal(back.virtualSize, 32 * MiB);
    assert.equal(await readAt(rawSr.vdiPath(C), 5 * MiB, 5), 'hello');
    assert.ok(back.physicalUtilisation <= 256 * 1024, `holes kept: ${back.physicalUtilisation}`);
    const abort = new AbortController();
    abort.abort();
    await assert.rejects(
      sr.vdiImport(C, await rawSr.vdiSource(A), { signal: abort.signal }),
      code('CANCELLED'),
    );
    assert.deepEqual(await sr.vdiList(), [B]);
    assert.deepEqual(
      (await fs.readdir(dir)).filter((n) => n.startsWith('.')),
      [],
    );
  });

  void it('fails qcow2 requests clearly when qemu-img is missing', async () => {
    const none = new FileSr({
      dir: path.join(root, 'none'),
      format: 'qcow2',
      qemuImg: path.join(root, 'no-qemu-img'),
    });
    await assert.rejects(none.attach(), code('UNSUPPORTED'));
    await assert.rejects(
      none.vdiCreate(A, MiB),
      (e: unknown) => code('UNSUPPORTED')(e) && /qemu-utils/.test(String(e)),
    );
    assert.deepEqual(await fs.readdir(path.join(root, 'none')), []);
  });
});

void describe('FileSr raw copies', () => {
  let root: string;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'poolstack-copy-'));
  });

  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  void it('copies between directories in chunks with rising progress, keeping holes', async () => {
    const a = new FileSr({ dir: path.join(root, 'a') });
    const b = new FileSr({ dir: path.join(root, 'b') });
    await a.attach();
    await b.attach();
    await a.vdiCreate(A, 64 * MiB);
    await writeAt(a.vdiPath(A), 0, 'boot');
    await writeAt(a.vdiPath(A), 50 * MiB, 'tail');
    const seen: number[] = [];
    const st = await b.vdiImport(A, await a.vdiSource(A), { onProgress: (f) => seen.push(f) });
    assert.equal(st.virtualSize, 64 * MiB);
    assert.ok(st.physicalUtilisation <= 256 * 1024, `holes kept: ${st.physicalUtilisation}`);
    assert.equal(await readAt(b.vdiPath(A), 50 * MiB, 4), 'tail');
    assert.ok(seen.length >= 10, `progress reported per chunk: ${seen.length}`);
    assert.deepEqual(
      [...seen].sort((x, y) => x - y),
      seen,
      'progress only rises',
    );
    assert.equal(seen.at(-1), 1);
    // Into an existing, larger VDI: old data where the source has zeros is overwritten.
    await b.vdiCreate(B, 128 * MiB);
    await writeAt(b.vdiPath(B), 20 * MiB, 'stale');
    await b.vdiImport(B, await a.vdiSource(A), { into: true });
    assert.equal(await readAt(b.vdiPath(B), 20 * MiB, 5), '\0\0\0\0\0');
    assert.equal(await readAt(b.vdiPath(B), 0, 4), 'boot');
    await assert.rejects(a.vdiImport(A, await b.vdiSource(B), { into: true }), code('INVALID_SIZE'));
    // Cancelled half-way: no VDI and no partial file.
    const abort = new AbortController();
    await assert.rejects(
      b.vdiImport(C, await a.vdiSource(A), {
        signal: abort.signal,
        onProgress: (f) => f > 0.3 && abort.abort(),
      }),
      code('CANCELLED'),
    );
    assert.deepEqual(await b.vdiList(), [A, B]);
    assert.deepEqual(
      (await fs.readdir(path.join(root, 'b'))).filter((n) => n.startsWith('.')),
      [],
    );
  });
});
