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
}

export interface StorageDriver {
  /** SR.type, e.g. `ext` for a local directory SR (xapi's local ext SR type). */
  readonly type: string;
  /** Makes sure the SR is usable (for a directory SR: the directory exists). Idempotent. */
  attach(): Promise<void>;
  stat(): Promise<SrStat>;
  /** Creates an empty (all-zero, sparse) VDI. VDI_EXISTS if present. */
  vdiCreate(vdiUuid: string, virtualSize: number): Promise<VdiStat>;
  vdiDestroy(vdiUuid: string): Promise<void>;
  /** A full, independent copy that stays cheap when the source is sparse. */
  vdiClone(srcUuid: string, dstUuid: string): Promise<VdiStat>;
  /** Grow only; a smaller size is INVALID_SIZE. */
  vdiResize(vdiUuid: string, newSize: number): Promise<VdiStat>;
  vdiStat(vdiUuid: string): Promise<VdiStat>;
  /** Path of the backing file, handed to the hypervisor driver as DiskSpec.path. */
  vdiPath(vdiUuid: string): string;
  /** Uuids of the VDIs present, sorted (for SR.scan). */
  vdiList(): Promise<string[]>;
  /**
   * The lease slots of a VDI (docs/storage.md): one small record per host that ever held it,
   * keyed by the host's uuid. Each slot is written only by its own host, so a write delayed in
   * the storage can never overwrite another host's claim.
   */
  leaseRead(vdiUuid: string): Promise<Map<string, string>>;
  /** Replaces `holder`'s slot atomically and durably: readers see the old or the new text. */
  leaseWrite(vdiUuid: string, holder: string, text: string): Promise<void>;
}

export type StorageErrorCode = 'VDI_MISSING' | 'VDI_EXISTS' | 'SR_FULL' | 'IO_ERROR' | 'INVALID_SIZE';

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
