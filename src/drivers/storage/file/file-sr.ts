// A directory SR: each VDI is a sparse raw file `<dir>/<vdi-uuid>.img`. New files are built under a
// hidden `.partial` name and published with link(2), which is atomic and refuses to overwrite, so a
// crash never leaves a half-built VDI under a real name and two creators of one uuid cannot both win.
import { constants as fsConstants } from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { assert } from '../../../base/assert.js';
import { isUuid } from '../../../base/ids.js';
import { errnoCode, fsyncDir, writeFileAtomic } from '../../durable-fs.js';
import { StorageError, type SrStat, type StorageDriver, type VdiStat } from '../driver.js';

const VDI_SUFFIX = '.img';
const PARTIAL_SUFFIX = '.partial';
/** Lease slots live in `<dir>/.leases/<vdi-uuid>/<host-uuid>` (hidden, so never taken for VDIs). */
const LEASE_DIR = '.leases';
/** Largest virtual size accepted (1 PiB): far beyond any real disk, small enough to stay exact. */
export const VDI_SIZE_MAX = 2 ** 50;
/** Read size of the fallback copy; large chunks amortise the per-read cost of scanning holes. */
const COPY_CHUNK_BYTES = 4 * 1024 * 1024;
/** Granularity of holes in the fallback copy: the usual filesystem block size. */
const SPARSE_BLOCK_BYTES = 4096;
/**
 * Files this small may keep their data inside the inode (ext4 inline_data, btrfs inline extents)
 * and report zero blocks while holding data, so "no blocks ⇒ all zeros" is only trusted above it.
 */
const INLINE_DATA_BYTES_MAX = 64 * 1024;

export interface FileSrOptions {
  dir: string;
  /** SR.type; `ext` is xapi's local file-based SR type. */
  type?: string;
}

export class FileSr implements StorageDriver {
  readonly type: string;
  private readonly dir: string;
  /** Makes temp names unique within this process without needing a Random. */
  private partialSeq = 0;

  constructor(opts: FileSrOptions) {
    this.dir = path.resolve(opts.dir);
    this.type = opts.type ?? 'ext';
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

  async vdiCreate(vdiUuid: string, virtualSize: number): Promise<VdiStat> {
    checkSize(virtualSize);
    const final = this.vdiPath(vdiUuid);
    const partial = this.partialPath(vdiUuid);
    try {
      const handle = await fsp.open(partial, 'wx', 0o600);
      try {
        // ftruncate allocates nothing: the whole file is a hole, so the VDI costs ~0 bytes.
        await handle.truncate(virtualSize);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.publish(partial, final, vdiUuid);
    } catch (e) {
      await fsp.rm(partial, { force: true }).catch(() => undefined);
      throw toStorageError(e, `create VDI ${vdiUuid}`);
    }
    return this.vdiStat(vdiUuid);
  }

  async vdiDestroy(vdiUuid: string): Promise<void> {
    try {
      await fsp.unlink(this.vdiPath(vdiUuid));
      await fsyncDir(this.dir);
    } catch (e) {
      throw toStorageError(e, `destroy VDI ${vdiUuid}`, 'VDI_MISSING');
    }
    await fsp.rm(this.leaseDir(vdiUuid), { recursive: true, force: true }).catch(() => undefined);
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

  async vdiResize(vdiUuid: string, newSize: number): Promise<VdiStat> {
    checkSize(newSize);
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
      const st = await fsp.stat(this.vdiPath(vdiUuid));
      // st_blocks counts 512-byte units whatever the filesystem block size (POSIX).
      return { virtualSize: st.size, physicalUtilisation: st.blocks * 512 };
    } catch (e) {
      throw toStorageError(e, `stat VDI ${vdiUuid}`, 'VDI_MISSING');
    }
  }

  vdiPath(vdiUuid: string): string {
    // Uuids come from the DB; anything else here (say `../x`) is a caller bug that would escape the SR.
    assert(isUuid(vdiUuid), `not a VDI uuid: ${vdiUuid}`);
    return path.join(this.dir, vdiUuid.toLowerCase() + VDI_SUFFIX);
  }

  async vdiList(): Promise<string[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (e) {
      throw toStorageError(e, `list ${this.dir}`);
    }
    return names
      .filter((n) => n.endsWith(VDI_SUFFIX))
      .map((n) => n.slice(0, -VDI_SUFFIX.length))
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
 * Copies `src` to a new file `dst` leaving holes where the source reads as zeros. Node has no
 * SEEK_DATA, so holes are found by reading them (~1 GB/s); a source with no allocated blocks is
 * known to be all zeros and is not read at all, which covers VDIs no guest has written.
 */
async function sparseCopy(src: string, dst: string, size: number, srcBlocks: number): Promise<void> {
  const out = await fsp.open(dst, 'wx', 0o600);
  try {
    if (srcBlocks > 0 || size <= INLINE_DATA_BYTES_MAX) {
      const input = await fsp.open(src, 'r');
      try {
        const buf = Buffer.alloc(COPY_CHUNK_BYTES);
        const zeros = Buffer.alloc(COPY_CHUNK_BYTES);
        for (let pos = 0; pos < size;) {
          const { bytesRead } = await input.read(buf, 0, Math.min(COPY_CHUNK_BYTES, size - pos), pos);
          if (bytesRead === 0) break; // the source shrank under us; the truncate below keeps the size
          if (!buf.subarray(0, bytesRead).equals(zeros.subarray(0, bytesRead))) {
            await writeNonZeroRuns(out, buf.subarray(0, bytesRead), pos, zeros);
          }
          pos += bytesRead;
        }
      } finally {
        await input.close();
      }
    }
    await out.truncate(size);
  } finally {
    await out.close();
  }
}

/** Writes the runs of `chunk` that are not whole zero blocks, so a few bytes cost one block, not a chunk. */
async function writeNonZeroRuns(
  out: FileHandle,
  chunk: Buffer,
  position: number,
  zeros: Buffer,
): Promise<void> {
  let runStart = -1;
  for (let off = 0; off < chunk.length; off += SPARSE_BLOCK_BYTES) {
    const end = Math.min(off + SPARSE_BLOCK_BYTES, chunk.length);
    const isZero = chunk.subarray(off, end).equals(zeros.subarray(0, end - off));
    if (!isZero && runStart < 0) runStart = off;
    if (isZero && runStart >= 0) {
      await writeFully(out, chunk.subarray(runStart, off), position + runStart);
      runStart = -1;
    }
  }
  if (runStart >= 0) await writeFully(out, chunk.subarray(runStart), position + runStart);
}

async function writeFully(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  for (let off = 0; off < data.length;) {
    const { bytesWritten } = await handle.write(data, off, data.length - off, position + off);
    off += bytesWritten;
  }
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
