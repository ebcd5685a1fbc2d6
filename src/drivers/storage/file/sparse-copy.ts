// Raw data copies that keep holes: the fallback clone of a raw VDI (no reflink) and the chunked,
// cancellable copy with progress behind VDI.copy. Node has no SEEK_DATA, so holes are found by
// reading them (~1 GB/s); whole zero blocks are never written.
import fsp, { type FileHandle } from 'node:fs/promises';
import { StorageError, type VdiImportOptions } from '../driver.js';

/** Read size of the fallback copy; large chunks amortise the per-read cost of scanning holes. */
const COPY_CHUNK_BYTES = 4 * 1024 * 1024;
/** Granularity of holes in the fallback copy: the usual filesystem block size. */
const SPARSE_BLOCK_BYTES = 4096;
/**
 * Files this small may keep their data inside the inode (ext4 inline_data, btrfs inline extents)
 * and report zero blocks while holding data, so "no blocks ⇒ all zeros" is only trusted above it.
 */
const INLINE_DATA_BYTES_MAX = 64 * 1024;

export async function syncFile(file: string): Promise<void> {
  const h = await fsp.open(file, 'r+');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/**
 * Copies `size` bytes of raw data from `src` into the raw file `dst` in chunks, keeping holes,
 * reporting progress and stopping when the signal aborts. A new `dst` is empty, so zero chunks are
 * skipped; over an existing VDI (`into`) zeros are written only where the target is not zero.
 */
export async function copyRawData(
  src: string,
  dst: string,
  total: number,
  into: boolean,
  opts: VdiImportOptions,
): Promise<void> {
  let size = total;
  const input = await fsp.open(src, 'r');
  const out = await fsp.open(dst, 'r+');
  try {
    // A source with no allocated blocks is all zeros (see sparseCopy); a new target already is.
    if (!into && size > INLINE_DATA_BYTES_MAX && (await input.stat()).blocks === 0) size = 0;
    const buf = Buffer.alloc(COPY_CHUNK_BYTES);
    const old = Buffer.alloc(COPY_CHUNK_BYTES);
    const zeros = Buffer.alloc(COPY_CHUNK_BYTES);
    for (let pos = 0; pos < size;) {
      if (opts.signal?.aborted === true) throw new StorageError('CANCELLED', 'copy cancelled');
      const want = Math.min(COPY_CHUNK_BYTES, size - pos);
      const { bytesRead } = await input.read(buf, 0, want, pos);
      // A source shorter than its size reads as zeros beyond its end, as a sparse file does.
      buf.fill(0, bytesRead, want);
      const chunk = buf.subarray(0, want);
      if (!chunk.equals(zeros.subarray(0, want))) {
        await writeNonZeroRuns(out, chunk, pos, zeros);
      }
      if (into) {
        // Blocks that are zero in the source but not in the target must become zero.
        const { bytesRead: had } = await out.read(old, 0, want, pos);
        if (had > 0) {
          for (let off = 0; off < want; off += SPARSE_BLOCK_BYTES) {
            const end = Math.min(off + SPARSE_BLOCK_BYTES, want);
            if (
              chunk.subarray(off, end).equals(zeros.subarray(0, end - off)) &&
              !old.subarray(off, end).equals(zeros.subarray(0, end - off))
            )
              await writeFully(out, zeros.subarray(0, end - off), pos + off);
          }
        }
      }
      pos += want;
      opts.onProgress?.(pos / size);
    }
  } finally {
    if (!into) await out.truncate(total).catch(() => undefined);
    await input.close();
    await out.close();
  }
}

/**
 * Copies `src` to a new file `dst` leaving holes where the source reads as zeros. Node has no
 * SEEK_DATA, so holes are found by reading them (~1 GB/s); a source with no allocated blocks is
 * known to be all zeros and is not read at all, which covers VDIs no guest has written.
 */
export async function sparseCopy(src: string, dst: string, size: number, srcBlocks: number): Promise<void> {
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
