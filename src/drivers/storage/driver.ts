// The storage driver interface: one instance per attached SR on a host. VDIs are named by their
// uuid, so the DB is the only place that maps VDI records to backing files.

export interface SrStat {
  /** Bytes the SR can hold (SR.physical_size). */
  physicalSize: number;
  /** Bytes actually allocated by VDIs (SR.physical_utilisation). */
  physicalUtilisation: number;
}

export interface VdiStat {
  /** Size the guest sees (VDI.virtual_size). */
  virtualSize: number;
  /** Bytes allocated on disk; much less than virtualSize for sparse files (VDI.physical_utilisation). */
  physicalUtilisation: number;
  /** The image format, given only for formats other than raw (recorded as VDI.sm_config.type). */
  format?: 'qcow2';
}

/** Where a VDI's data can be read on this host, to copy it into another SR (VDI.copy). */
export interface VdiSource {
  path: string;
  format: 'raw' | 'qcow2';
  virtualSize: number;
}

export interface VdiImportOptions {
  /** Copy into this existing VDI (overwriting all of it) instead of creating `dstUuid`. */
  into?: boolean;
  /** Called with the fraction done, 0 to 1, as the copy goes. */
  onProgress?: (fraction: number) => void;
  /** Aborting stops the copy with CANCELLED; a new VDI being built is then removed. */
  signal?: AbortSignal;
}

export interface StorageDriver {
  /** SR.type, e.g. `ext` for a local directory SR (xapi's local ext SR type). */
  readonly type: string;
  /** Makes sure the SR is usable (for a directory SR: the directory exists). Idempotent. */
  attach(): Promise<void>;
  stat(): Promise<SrStat>;
  /**
   * Creates an empty (all-zero, sparse) VDI. VDI_EXISTS if present. `format`, when given, must be
   * the one this SR holds (else UNSUPPORTED).
   */
  vdiCreate(vdiUuid: string, virtualSize: number, format?: string): Promise<VdiStat>;
  vdiDestroy(vdiUuid: string): Promise<void>;
  /**
   * An independent copy that stays cheap when the source is sparse: for raw a sparse copy, for
   * qcow2 a copy-on-write overlay (both VDIs then share a frozen, hidden base image). Used for
   * VDI.clone and VDI.snapshot alike: the data of both stays what the source held at the call.
   */
  vdiClone(srcUuid: string, dstUuid: string): Promise<VdiStat>;
  /** Grow only; a smaller size is INVALID_SIZE. */
  vdiResize(vdiUuid: string, newSize: number): Promise<VdiStat>;
  vdiStat(vdiUuid: string): Promise<VdiStat>;
  /** Path of the backing file, handed to the hypervisor driver as DiskSpec.path. */
  vdiPath(vdiUuid: string): string;
  /** Uuids of the VDIs present, sorted (for SR.scan). Hidden entries are never VDIs. */
  vdiList(): Promise<string[]>;
  /** The VDI's data as this host can read it (for copies between SRs). */
  vdiSource(vdiUuid: string): Promise<VdiSource>;
  /**
   * Copies the guest-visible data of `src` (readable on this host) into a new VDI `dstUuid` built
   * atomically (nothing visible until complete), or with `into` over the existing VDI `dstUuid`.
   */
  vdiImport(dstUuid: string, src: VdiSource, opts?: VdiImportOptions): Promise<VdiStat>;
  /**
   * The lease slots of a VDI (docs/storage.md): one small record per host that ever held it,
   * keyed by the host's uuid. Each slot is written only by its own host, so a write delayed in
   * the storage can never overwrite another host's claim.
   */
  leaseRead(vdiUuid: string): Promise<Map<string, string>>;
  /** Replaces `holder`'s slot atomically and durably: readers see the old or the new text. */
  leaseWrite(vdiUuid: string, holder: string, text: string): Promise<void>;
}

export type StorageErrorCode =
  | 'VDI_MISSING'
  | 'VDI_EXISTS'
  | 'SR_FULL'
  | 'IO_ERROR'
  | 'INVALID_SIZE'
  /** The SR cannot do this here (qcow2 without qemu-img, a format the SR does not hold). */
  | 'UNSUPPORTED'
  /** The operation's signal was aborted (task.cancel). */
  | 'CANCELLED';

/**
 * An expected failure of a storage operation. The agent maps `code` to a XenAPI error in one place;
 * `name` and `code` are plain fields so logs and tests can match on strings.
 */
export class StorageError extends Error {
  override readonly name = 'StorageError';

  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isStorageError(e: unknown, code?: StorageErrorCode): e is StorageError {
  return e instanceof StorageError && (code === undefined || e.code === code);
}
