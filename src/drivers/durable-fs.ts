// Small helpers that make file changes durable: a rename or new file is only safe after a crash once
// both the file and its directory entry have been fsynced.
import fsp from 'node:fs/promises';
import path from 'node:path';

/** Node's errno code of a thrown value (`ENOENT`, …), if it has one. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
  return undefined;
}

/** Flushes a directory so entries created, renamed or removed in it survive a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `file` so that a reader (or a restart after a crash) sees either the old or the new
 * content, never a torn mix: write a temp file, fsync it, rename over, fsync the directory.
 * The temp name is fixed, so callers must not write the same file concurrently (they serialize).
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp`;
  try {
    const handle = await fsp.open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await fsyncDir(path.dirname(file));
}
