// qcow2 images through qemu-img (Debian package qemu-utils): every run is an execFile with an
// argument array (no shell, so a path can never become a command) and a bounded timeout. The
// backing-file name is read from the qcow2 header directly, which needs no process at all.
import { execFile, spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import { limits } from '../../../base/limits.js';
import { errnoCode } from '../../durable-fs.js';
import { StorageError } from '../driver.js';

/** Image formats a directory SR can hold. */
export type ImageFormat = 'raw' | 'qcow2';
export const IMAGE_FORMATS: readonly ImageFormat[] = ['raw', 'qcow2'];

export function isImageFormat(s: string | undefined): s is ImageFormat {
  return s === 'raw' || s === 'qcow2';
}

const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
const QCOW2_HEADER_BYTES = 20;
/** Backing-file names are at most 1023 bytes (qcow2 spec). */
const BACKING_NAME_BYTES_MAX = 1023;

function notInstalled(bin: string, cause: unknown): StorageError {
  return new StorageError(
    'UNSUPPORTED',
    `qcow2 VDIs need ${bin} (Debian package qemu-utils), which is not installed`,
    { cause },
  );
}

/** Runs qemu-img and returns its stdout; a failure is an IO_ERROR carrying its stderr. */
export function qemuImg(
  bin: string,
  args: readonly string[],
  timeoutMs: number = limits.qemuImgTimeoutMs,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      { timeout: timeoutMs, maxBuffer: 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err === null) return resolve(stdout);
        if (errnoCode(err) === 'ENOENT') return reject(notInstalled(bin, err));
        const why = err.killed ? `timed out after ${timeoutMs} ms` : stderr.trim() || err.message;
        reject(new StorageError('IO_ERROR', `${bin} ${args[0] ?? ''}: ${why}`, { cause: err }));
      },
    );
  });
}

/** Virtual size of a qcow2 image. `-U` because a running guest holds a write lock on its image. */
export async function qcow2VirtualSize(bin: string, file: string): Promise<number> {
  const out = await qemuImg(bin, ['info', '-U', '--output=json', '-f', 'qcow2', file]);
  const size = (JSON.parse(out) as { 'virtual-size'?: unknown })['virtual-size'];
  if (typeof size !== 'number') throw new StorageError('IO_ERROR', `qemu-img info ${file}: no virtual-size`);
  return size;
}

/**
 * The backing-file name written in a qcow2 header (as written: relative names are relative to the
 * image's directory), or undefined for an image without one or a file that is not qcow2.
 */
export async function qcow2BackingName(file: string): Promise<string | undefined> {
  const h = await fsp.open(file, 'r');
  try {
    const head = Buffer.alloc(QCOW2_HEADER_BYTES);
    const { bytesRead } = await h.read(head, 0, QCOW2_HEADER_BYTES, 0);
    if (bytesRead < QCOW2_HEADER_BYTES || head.readUInt32BE(0) !== QCOW2_MAGIC) return undefined;
    const offset = head.readBigUInt64BE(8);
    const size = head.readUInt32BE(16);
    if (offset === 0n || size === 0 || size > BACKING_NAME_BYTES_MAX) return undefined;
    const name = Buffer.alloc(size);
    await h.read(name, 0, size, Number(offset));
    return name.toString('utf8');
  } finally {
    await h.close();
  }
}

export interface ConvertOptions {
  /** Write into an existing image (qemu-img -n) instead of creating `dst`. */
  existing: boolean;
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
}

/**
 * `qemu-img convert -p`: copies the guest-visible data of `src` into `dst`, skipping zeros (holes
 * stay holes), reporting its progress lines as fractions. Aborting kills the process.
 */
export function qemuConvert(
  bin: string,
  src: { path: string; format: ImageFormat },
  dst: { path: string; format: ImageFormat },
  opts: ConvertOptions,
): Promise<void> {
  const args = ['convert', '-p', '-f', src.format, '-O', dst.format];
  if (opts.existing) args.push('-n');
  args.push(src.path, dst.path);
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted === true)
      return reject(new StorageError('CANCELLED', 'copy cancelled before it started'));
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limits.vdiCopyTimeoutMs);
    const onAbort = () => child.kill('SIGKILL');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      // Progress lines look like "    (42.17/100%)\r".
      for (const m of chunk.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g))
        opts.onProgress?.(Math.min(1, Number(m[1]) / 100));
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 64 * 1024) stderr += chunk;
    });
    const done = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (e) => {
      done();
      reject(errnoCode(e) === 'ENOENT' ? notInstalled(bin, e) : e);
    });
    child.once('close', (code) => {
      done();
      if (opts.signal?.aborted === true) return reject(new StorageError('CANCELLED', 'copy cancelled'));
      if (code === 0) return resolve();
      const why = timedOut ? `timed out after ${limits.vdiCopyTimeoutMs} ms` : stderr.trim();
      reject(new StorageError('IO_ERROR', `qemu-img convert: ${why || `exit ${String(code)}`}`));
    });
  });
}
