// A directory SR: each VDI is a sparse raw file `<dir>/<vdi-uuid>.img`, or on an SR created with
// device-config `preferred-image-formats=qcow2` a qcow2 file `<dir>/<vdi-uuid>.qcow2`. New files are
// built under a hidden `.partial` name and published with link(2), which is atomic and refuses to
// overwrite, so a crash never leaves a half-built VDI under a real name and two creators of one
// uuid cannot both win.
//
// qcow2 chains (docs/storage-vdis.md): a clone or snapshot freezes the source's current image as a
// hidden, never-written base `.base-<new-uuid>.qcow2`, and both the source and the new VDI become
// empty overlays on it. The source keeps its file name, so the hypervisor's path stays valid, and
// neither VDI can see the other's later writes. Destroying a VDI removes its overlay and then every
// base no other image in the SR still names as its backing file.
import { constants as fsConstants } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { assert } from '../../../base/assert.js';
import { isUuid } from '../../../base/ids.js';
import { errnoCode, fsyncDir, writeFileAtomic } from '../../durable-fs.js';
import {
  StorageError,
  type SrStat,
  type StorageDriver,
  type VdiImportOptions,
  type VdiSource,
  type VdiStat,
} from '../driver.js';
import {
  IMAGE_FORMATS,
  isImageFormat,
  qcow2BackingName,
  qcow2VirtualSize,
  qemuConvert,
  qemuImg,
  type ImageFormat,
} from './qemu-img.js';
import { copyRawData, sparseCopy, syncFile } from './sparse-copy.js';

const VDI_SUFFIX = '.img';
const QCOW2_SUFFIX = '.qcow2';
/** Frozen qcow2 images that clones and snapshots share; hidden, so never listed as VDIs. */
const BASE_PREFIX = '.base-';
const PARTIAL_SUFFIX = '.partial';
/** Lease slots live in `<dir>/.leases/<vdi-uuid>/<host-uuid>` (hidden, so never taken for VDIs). */
const LEASE_DIR = '.leases';
/** Largest virtual size accepted (1 PiB): far beyond any real disk, small enough to stay exact. */
export const VDI_SIZE_MAX = 2 ** 50;

export interface FileSrOptions {
  dir: string;
  /** SR.type; `ext` is xapi's local file-based SR type. */
  type?: string;
  /** Format of every VDI of this SR (default raw). */
  format?: ImageFormat;
  /** The qemu-img binary (tests point it at a missing one). */
  qemuImg?: string;
}

/**
 * The image format a PBD's device-config asks for: `preferred-image-formats` as XCP-ng names it
 * (a comma list; this SR holds the first). Raw when absent; anything else is an error.
 */
export function formatFromDeviceConfig(deviceConfig: Record<string, string>): ImageFormat {
  const want = deviceConfig['preferred-image-formats'];
  if (want === undefined || want.trim() === '') return 'raw';
  const first = want.split(',')[0]?.trim();
  if (!isImageFormat(first))
    throw new StorageError(
      'UNSUPPORTED',
      `preferred-image-formats=${want}: a directory SR holds ${IMAGE_FORMATS.join(' or ')}`,
    );
  return first;
}

export class FileSr implements StorageDriver {
  readonly type: string;
  readonly format: ImageFormat;
  private readonly dir: string;
  private readonly qemuImg: string;
  /** Makes temp names unique within this process without needing a Random. */
  private partialSeq = 0;

  constructor(opts: FileSrOptions) {
    this.dir = path.resolve(opts.dir);
    this.type = opts.type ?? 'ext';
    this.format = opts.format ?? 'raw';
    this.qemuImg = opts.qemuImg ?? 'qemu-img';
  }

  private get suffix(): string {
    return this.format === 'qcow2' ? QCOW2_SUFFIX : VDI_SUFFIX;
  }

  async attach(): Promise<void> {
    let created: string | undefined;
    try {
      created = await fsp.mkdir(this.dir, { recursive: true });
      if (!(await fsp.stat(this.dir)).isDirectory()) throw new Error(`${this.dir} is not a directory`);
      // Every directory mkdir created is a new entry in its parent; flush each parent.
      for (let d = this.dir; created !== undefined; d = path.dirname(d)) {
        await fsyncDir(path.dirname(d));
        if (d === created || d === path.dirname(d)) break;
      }
      // A qcow2 SR is unusable without qemu-img: say so when it is plugged, not at the first VDI.
      if (this.format === 'qcow2') await qemuImg(this.qemuImg, ['--version']);
      // Leftovers of builds interrupted by a crash; they were never published as VDIs.
      for (const name of await fsp.readdir(this.dir)) {
        if (name.startsWith('.') && name.endsWith(PARTIAL_SUFFIX))
          await fsp.rm(path.join(this.dir, name), { force: true });
      }
    } catch (e) {
      throw toStorageError(e, `attach ${this.dir}`);
    }
  }

  async stat(): Promise<SrStat> {
    let physicalSize: number;
    try {
      const fsStat = await fsp.statfs(this.dir);
      physicalSize = fsStat.blocks * fsStat.bsize;
    } catch (e) {
      throw toStorageError(e, `statfs ${this.dir}`);
    }
    let physicalUtilisation = 0;
    for (const uuid of await this.vdiList()) {
      try {
        physicalUtilisation += (await this.vdiStat(uuid)).physicalUtilisation;
      } catch (e) {
        // Destroyed between the listing and the stat: it no longer uses space.
        if (!(e instanceof StorageError && e.code === 'VDI_MISSING')) throw e;
      }
    }
    return { physicalSize, physicalUtilisation };
  }

  async vdiCreate(vdiUuid: string, virtualSize: number, format?: string): Promise<VdiStat> {
    checkSize(virtualSize);
    if (format !== undefined && format !== this.format)
      throw new StorageError('UNSUPPORTED', `this SR holds ${this.format} VDIs, not ${format}`);
    const final = this.vdiPath(vdiUuid);
    const partial = this.partialPath(vdiUuid);
    try {
      if (this.format === 'qcow2') {
        await qemuImg(this.qemuImg, ['create', '-q', '-f', 'qcow2', partial, String(virtualSize)]);
        await syncFile(partial);
      } else {
        const handle = await fsp.open(partial, 'wx', 0o600);
        try {
          // ftruncate allocates nothing: the whole file is a hole, so the VDI costs ~0 bytes.
          await handle.truncate(virtualSize);
          await handle.sync();
        } finally {
          await handle.close();
        }
      }
      await this.publish(partial, final, vdiUuid);
    } catch (e) {
      await fsp.rm(partial, { force: true }).catch(() => undefined);
      throw toStorageError(e, `create VDI ${vdiUuid}`);
    }
    return this.vdiStat(vdiUuid);
  }

  async vdiDestroy(vdiUuid: string): Promise<void> {
    const file = this.vdiPath(vdiUuid);
    try {
      const backing = this.format === 'qcow2' ? await qcow2BackingName(file) : undefined;
      await fsp.unlink(file);
      await fsyncDir(this.dir);
      if (backing !== undefined) await this.collectBases(backing);
    } catch (e) {
      throw toStorageError(e, `destroy VDI ${vdiUuid}`, 'VDI_MISSING');
    }
    await fsp.rm(this.leaseDir(vdiUuid), { recursive: true, force: true }).catch(() => undefined);
  }

  /**
   * Removes the base `name` if no image of the SR (VDIs, bases, partial builds) still names it as
   * backing file, then does the same for its own backing file. Bases are only ever referenced from
   * this directory, so one listing decides.
   */
  private async collectBases(name: string): Promise<void> {
    for (let base: string | undefined = name; base !== undefined;) {
      if (!base.startsWith(BASE_PREFIX) || base.includes('/')) return; // not one of ours
      const users = await this.backingUsers();
      if (users.has(base)) return;
      const file = path.join(this.dir, base);
      const next = await qcow2BackingName(file).catch(() => undefined);
      await fsp.rm(file, { force: true });
      await fsyncDir(this.dir);
      base = next;
    }
  }

  /** Backing-file names referenced by the images in the SR directory. */
  private async backingUsers(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const n of await fsp.readdir(this.dir)) {
      if (!(n.endsWith(QCOW2_SUFFIX) || n.endsWith(PARTIAL_SUFFIX))) continue;
      const b = await qcow2BackingName(path.join(this.dir, n)).catch(() => undefined);
      if (b !== undefined) out.add(b);
    }
    return out;
  }

  async leaseRead(vdiUuid: string): Promise<Map<string, string>> {
    const dir = this.leaseDir(vdiUuid);
    const out = new Map<string, string>();
    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return out;
      throw toStorageError(e, `read leases of ${vdiUuid}`);
    }
    for (const name of names.filter(isUuid).sort()) {
      try {
        out.set(name, await fsp.readFile(path.join(dir, name), 'utf8'));
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw toStorageError(e, `read lease ${vdiUuid}/${name}`);
      }
    }
    return out;
  }

  async leaseWrite(vdiUuid: string, holder: string, text: string): Promise<void> {
    assert(isUuid(holder), `not a host uuid: ${holder}`);
    const dir = this.leaseDir(vdiUuid);
    try {
      if ((await fsp.mkdir(dir, { recursive: true })) !== undefined) {
        await fsyncDir(path.dirname(dir));
        await fsyncDir(this.dir);
      }
      await writeFileAtomic(path.join(dir, holder.toLowerCase()), text);
    } catch (e) {
      throw toStorageError(e, `write lease ${vdiUuid}/${holder}`);
    }
  }

  async vdiClone(srcUuid: string, dstUuid: string): Promise<VdiStat> {
    if (this.format === 'qcow2') return this.qcow2Clone(srcUuid, dstUuid);
    const src = this.vdiPath(srcUuid);
    const final = this.vdiPath(dstUuid);
    const partial = this.partialPath(dstUuid);
    let srcStat;
    try {
      srcStat = await fsp.stat(src);
    } catch (e) {
      throw toStorageError(e, `clone VDI ${srcUuid}`, 'VDI_MISSING');
    }
    try {
      try {
        // A reflink shares extents (btrfs, XFS): instant and exactly as sparse as the source.
        await fsp.copyFile(src, partial, fsConstants.COPYFILE_EXCL | fsConstants.COPYFILE_FICLONE_FORCE);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') throw e;
        // No reflink (ext4, tmpfs, across filesystems). Not COPYFILE_FICLONE: its fallback copies
        // every byte, holes included (measured: a 10 GiB empty VDI became 10 GiB on ext4, 53 s).
        await fsp.rm(partial, { force: true });
        await sparseCopy(src, partial, srcStat.size, srcStat.blocks);
      }
      const handle = await fsp.open(partial, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.publish(partial, final, dstUuid);
    } catch (e) {
      await fsp.rm(partial, { force: true }).catch(() => undefined);
      throw toStorageError(e, `clone VDI ${srcUuid} to ${dstUuid}`, 'VDI_MISSING');
    }
    return this.vdiStat(dstUuid);
  }

  /** See the header: freeze the source as a base, give source and clone each an empty overlay. */
  private async qcow2Clone(srcUuid: string, dstUuid: string): Promise<VdiStat> {
    const src = this.vdiPath(srcUuid);
    const final = this.vdiPath(dstUuid);
    const baseName = `${BASE_PREFIX}${dstUuid.toLowerCase()}${QCOW2_SUFFIX}`;
    const base = path.join(this.dir, baseName);
    const srcOverlay = this.partialPath(srcUuid);
    const dstOverlay = this.partialPath(dstUuid);
    try {
      await fsp.access(src); // a missing source is VDI_MISSING whatever the target
      await fsp.access(final).then(
        () => {
          throw new StorageError('VDI_EXISTS', `VDI ${dstUuid} already exists`);
        },
        () => undefined,
      );
      // A second name for the source's image; from the rename below on it is the only one.
      await fsp.link(src, base);
    } catch (e) {
      throw toStorageError(e, `clone VDI ${srcUuid}`, 'VDI_MISSING');
    }
    let swapped = false;
    try {
      const size = await qcow2VirtualSize(this.qemuImg, base);
      // Relative backing names: resolved against the overlay's directory, so the SR may be
      // mounted at different paths on different hosts.
      for (const overlay of [srcOverlay, dstOverlay]) {
        await qemuImg(this.qemuImg, [
          'create',
          '-q',
          '-f',
          'qcow2',
          '-b',
          baseName,
          '-F',
          'qcow2',
          overlay,
          String(size),
        ]);
        await syncFile(overlay);
      }
      await fsp.rename(srcOverlay, src);
      swapped = true;
      await fsyncDir(this.dir);
      await fsp.chmod(base, 0o400); // frozen: nothing may write to a shared base
      await this.publish(dstOverlay, final, dstUuid);
    } catch (e) {
      await fsp.rm(srcOverlay, { force: true }).catch(() => undefined);
      await fsp.rm(dstOverlay, { force: true }).catch(() => undefined);
      // Before the swap the base is just a second name of the source's image.
      if (!swapped) await fsp.rm(base, { force: true }).catch(() => undefined);
      throw toStorageError(e, `clone VDI ${srcUuid} to ${dstUuid}`, 'VDI_MISSING');
    }
    return this.vdiStat(dstUuid);
  }

  async vdiResize(vdiUuid: string, newSize: number): Promise<VdiStat> {
    checkSize(newSize);
    if (this.format === 'qcow2') {
      const size = (await this.vdiStat(vdiUuid)).virtualSize;
      if (newSize < size)
        throw new StorageError('INVALID_SIZE', `VDI ${vdiUuid}: cannot shrink ${size} to ${newSize}`);
      if (newSize > size)
        await qemuImg(this.qemuImg, ['resize', '-q', '-f', 'qcow2', this.vdiPath(vdiUuid), String(newSize)]);
      return this.vdiStat(vdiUuid);
    }
    try {
      const handle = await fsp.open(this.vdiPath(vdiUuid), 'r+');
      try {
        const { size } = await handle.stat();
        // Shrinking would cut off data the guest's filesystem may still use (xapi refuses too).
        if (newSize < size)
          throw new StorageError('INVALID_SIZE', `VDI ${vdiUuid}: cannot shrink ${size} to ${newSize}`);
        if (newSize > size) {
          await handle.truncate(newSize);
          await handle.sync();
        }
      } finally {
        await handle.close();
      }
    } catch (e) {
      throw toStorageError(e, `resize VDI ${vdiUuid}`, 'VDI_MISSING');
    }
    return this.vdiStat(vdiUuid);
  }

  async vdiStat(vdiUuid: string): Promise<VdiStat> {
    try {
      const file = this.vdiPath(vdiUuid);
      const st = await fsp.stat(file);
      if (this.format === 'qcow2') {
        // Physical: this VDI's own overlay; shared bases are counted by the SR, not per VDI.
        const virtualSize = await qcow2VirtualSize(this.qemuImg, file);
        return { virtualSize, physicalUtilisation: st.blocks * 512, format: 'qcow2' };
      }
      // st_blocks counts 512-byte units whatever the filesystem block size (POSIX).
      return { virtualSize: st.size, physicalUtilisation: st.blocks * 512 };
    } catch (e) {
      throw toStorageError(e, `stat VDI ${vdiUuid}`, 'VDI_MISSING');
    }
  }

  vdiPath(vdiUuid: string): string {
    // Uuids come from the DB; anything else here (say `../x`) is a caller bug that would escape the SR.
    assert(isUuid(vdiUuid), `not a VDI uuid: ${vdiUuid}`);
    return path.join(this.dir, vdiUuid.toLowerCase() + this.suffix);
  }

  async vdiSource(vdiUuid: string): Promise<VdiSource> {
    const { virtualSize } = await this.vdiStat(vdiUuid);
    return { path: this.vdiPath(vdiUuid), format: this.format, virtualSize };
  }

  async vdiImport(dstUuid: string, src: VdiSource, opts: VdiImportOptions = {}): Promise<VdiStat> {
    const into = opts.into === true;
    if (into) {
      const have = (await this.vdiStat(dstUuid)).virtualSize;
      if (have < src.virtualSize)
        throw new StorageError(
          'INVALID_SIZE',
          `VDI ${dstUuid} holds ${have} bytes, needs ${src.virtualSize}`,
        );
    } else {
      checkSize(src.virtualSize);
    }
    const final = this.vdiPath(dstUuid);
    const target = into ? final : this.partialPath(dstUuid);
    try {
      if (src.format === 'raw' && this.format === 'raw') {
        if (!into) await (await fsp.open(target, 'wx', 0o600)).close();
        await copyRawData(src.path, target, src.virtualSize, into, opts);
      } else {
        if (!into) {
          // qemu-img convert sizes the new image from the source; qcow2 rounds nothing we need.
          await qemuConvert(
            this.qemuImg,
            src,
            { path: target, format: this.format },
            { existing: false, ...opts },
          );
        } else {
          await qemuConvert(
            this.qemuImg,
            src,
            { path: target, format: this.format },
            { existing: true, ...opts },
          );
        }
      }
      await syncFile(target);
      if (!into) await this.publish(target, final, dstUuid);
    } catch (e) {
      if (!into) await fsp.rm(target, { force: true }).catch(() => undefined);
      if (opts.signal?.aborted === true)
        throw new StorageError('CANCELLED', `copy into ${dstUuid} cancelled`);
      throw toStorageError(e, `copy into VDI ${dstUuid}`, 'VDI_MISSING');
    }
    opts.onProgress?.(1);
    return this.vdiStat(dstUuid);
  }

  async vdiList(): Promise<string[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (e) {
      throw toStorageError(e, `list ${this.dir}`);
    }
    const suffix = this.suffix;
    return names
      .filter((n) => !n.startsWith('.') && n.endsWith(suffix))
      .map((n) => n.slice(0, -suffix.length))
      .filter(isUuid)
      .sort();
  }

  private leaseDir(vdiUuid: string): string {
    assert(isUuid(vdiUuid), `not a VDI uuid: ${vdiUuid}`);
    return path.join(this.dir, LEASE_DIR, vdiUuid.toLowerCase());
  }

  private partialPath(vdiUuid: string): string {
    assert(isUuid(vdiUuid), `not a VDI uuid: ${vdiUuid}`);
    this.partialSeq++;
    return path.join(
      this.dir,
      `.${vdiUuid.toLowerCase()}.${process.pid}.${this.partialSeq}${PARTIAL_SUFFIX}`,
    );
  }

  /** Gives a fully built file its VDI name, atomically and only if the name is free. */
  private async publish(partial: string, final: string, vdiUuid: string): Promise<void> {
    try {
      await fsp.link(partial, final);
    } catch (e) {
      if (errnoCode(e) === 'EEXIST')
        throw new StorageError('VDI_EXISTS', `VDI ${vdiUuid} already exists`, { cause: e });
      throw e;
    }
    await fsp.unlink(partial);
    await fsyncDir(this.dir);
  }
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0)
    throw new StorageError('INVALID_SIZE', `invalid VDI size ${size}`);
  // Sparse files may exceed free space (as thin provisioning does), but not without limit.
  if (size > VDI_SIZE_MAX) throw new StorageError('SR_FULL', `VDI size ${size} exceeds ${VDI_SIZE_MAX}`);
}

/**
 * Maps a thrown value to a StorageError exactly once. `enoent` names what a missing file means at
 * the call site (a missing VDI, or for SR-wide calls an unattached SR, which is an I/O error).
 */
function toStorageError(
  e: unknown,
  what: string,
  enoent: 'VDI_MISSING' | 'IO_ERROR' = 'IO_ERROR',
): StorageError {
  if (e instanceof StorageError) return e;
  const code = errnoCode(e);
  if (code === 'ENOENT') return new StorageError(enoent, `${what}: not found`, { cause: e });
  if (code === 'ENOSPC' || code === 'EFBIG' || code === 'EDQUOT') {
    return new StorageError('SR_FULL', `${what}: ${String(e)}`, { cause: e });
  }
  return new StorageError('IO_ERROR', `${what}: ${String(e)}`, { cause: e });
}
