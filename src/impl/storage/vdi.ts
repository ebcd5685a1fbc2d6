// VDIs: the record in the DB and the file behind it on the SR's storage driver. A VDI record is
// written only after its file exists, and removed before its file is, so a crash in between leaves
// at most an orphan file (found by SR.scan), never a record without data.
import { isRef } from '../../base/ids.js';
import { StorageError } from '../../drivers/storage/driver.js';
import type { StorageDriver, VdiStat } from '../../drivers/storage/driver.js';
import { ApiError } from '../../model/errors.js';
import type { Rec } from '../../model/index.js';
import { NULL_REF } from '../../model/types.js';
import type { Ctx } from '../context.js';
import { storageAnywhere } from '../host/agent.js';
import { identity, now, read } from '../util.js';

type VDI = Rec<'VDI'>;

export function storageOf(ctx: Ctx, sr: string): StorageDriver {
  read(ctx, 'SR', sr);
  // This host's driver if it has the SR attached, else that of a member that has.
  const s = storageAnywhere(ctx, sr);
  if (s === undefined) throw new ApiError('SR_HAS_NO_PBDS', [sr]);
  return s;
}

async function storageCall<T>(sr: string, fn: () => Promise<T>, ctx?: Ctx): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof StorageError) {
      if (e.code === 'CANCELLED' || ctx?.signal.aborted === true)
        throw new ApiError('TASK_CANCELLED', [ctx?.task ?? ctx?.opRef ?? '']);
      // xapi's generic SM failure: status, stdout, stderr; the reason goes where xe shows it.
      if (e.code === 'UNSUPPORTED') throw new ApiError('SR_BACKEND_FAILURE', ['UNSUPPORTED', '', e.message]);
      if (e.code === 'SR_FULL') throw new ApiError('SR_FULL', ['unknown', 'unknown']);
      if (e.code === 'INVALID_SIZE') throw new ApiError('INVALID_VALUE', ['virtual_size', e.message]);
      if (e.code === 'VDI_MISSING') throw new ApiError('VDI_MISSING', [sr, e.message]);
      throw new ApiError('INTERNAL_ERROR', [`storage: ${e.message}`]);
    }
    throw e;
  }
}

/** VDI.create: `args` is a (partial) VDI record; SR and virtual_size are what matter. */
export async function createVdi(ctx: Ctx, args: Partial<VDI>): Promise<string> {
  const sr = args.SR ?? NULL_REF;
  if (!isRef(sr) || sr === NULL_REF) throw new ApiError('HANDLE_INVALID', ['SR', sr]);
  const storage = storageOf(ctx, sr);
  const size = args.virtual_size ?? 0;
  if (size < 0) throw new ApiError('INVALID_VALUE', ['virtual_size', String(size)]);
  // xapi/XCP-ng: sm_config `type` (or `image-format`) asks for an image format.
  const format = args.sm_config?.type ?? args.sm_config?.['image-format'];
  if (format !== undefined && format !== 'raw' && format !== 'qcow2')
    throw new ApiError('INVALID_VALUE', ['sm_config:type', format]);
  const { ref, uuid } = identity(ctx);
  const st = await storageCall(sr, () =>
    format === undefined ? storage.vdiCreate(uuid, size) : storage.vdiCreate(uuid, size, format),
  );
  insertRecord(ctx, ref, uuid, args, st);
  return ref;
}

function insertRecord(ctx: Ctx, ref: string, uuid: string, args: Partial<VDI>, st: VdiStat): void {
  ctx.svc.db.transact((tx) => {
    tx.create('VDI', ref, {
      ...args,
      // Only formats other than raw are recorded, so raw VDIs look as they always did.
      ...(st.format === undefined ? {} : { sm_config: { ...args.sm_config, type: st.format } }),
      uuid,
      location: uuid,
      virtual_size: st.virtualSize,
      physical_utilisation: st.physicalUtilisation,
      VBDs: [],
      snapshots: [],
      managed: true,
      missing: false,
      allowed_operations: ['clone', 'copy', 'destroy', 'resize', 'snapshot'],
      current_operations: {},
    });
    refreshSrUsage(ctx, tx, args.SR ?? NULL_REF);
  });
}

function refreshSrUsage(
  ctx: Ctx,
  tx: {
    get(c: string, r: string): Record<string, unknown> | undefined;
    update(c: string, r: string, p: Record<string, unknown>): void;
  },
  sr: string,
): void {
  const rec = tx.get('SR', sr) as Rec<'SR'> | undefined;
  if (rec === undefined) return;
  let virtual = 0;
  let physical = 0;
  for (const v of rec.VDIs) {
    const vdi = tx.get('VDI', v) as VDI | undefined;
    virtual += vdi?.virtual_size ?? 0;
    physical += vdi?.physical_utilisation ?? 0;
  }
  tx.update('SR', sr, { virtual_allocation: virtual, physical_utilisation: physical });
}

function assertNotInUse(ctx: Ctx, ref: string, vdi: VDI, op: string): void {
  for (const vbd of vdi.VBDs) {
    const r = ctx.svc.db.get('VBD', vbd);
    if (r?.currently_attached === true) throw new ApiError('VDI_IN_USE', [ref, op]);
  }
}

export async function destroyVdiRecordAndFile(ctx: Ctx, ref: string): Promise<void> {
  const vdi = read(ctx, 'VDI', ref);
  assertNotInUse(ctx, ref, vdi, 'destroy');
  const storage = storageOf(ctx, vdi.SR);
  ctx.svc.db.transact((tx) => {
    // VBDs pointing at a destroyed VDI become empty drives, as xapi leaves them dangling-but-valid.
    for (const vbd of vdi.VBDs)
      if (tx.get('VBD', vbd) !== undefined) tx.update('VBD', vbd, { VDI: NULL_REF, empty: true });
    tx.delete('VDI', ref);
    refreshSrUsage(ctx, tx, vdi.SR);
  });
  await storageCall(vdi.SR, () => storage.vdiDestroy(vdi.uuid));
}

/** VDI.clone / VDI.copy: a full copy of the data into `sr` (same SR for clone). */
export async function copyVdi(ctx: Ctx, ref: string, sr: string, nameLabel?: string): Promise<string> {
  const src = read(ctx, 'VDI', ref);
  const target = sr === NULL_REF ? src.SR : sr;
  if (target === src.SR) return cloneVdi(ctx, ref, { nameLabel });
  return copyVdiToSr(ctx, ref, target, NULL_REF, { nameLabel });
}

/** The fields a copy, clone or snapshot takes from its source. */
function copiedFields(src: VDI, sr: string, nameLabel: string | undefined): Partial<VDI> {
  const smConfig = { ...src.sm_config };
  // The image format is the target SR's; insertRecord records it again when it is not raw.
  delete smConfig.type;
  return {
    name_label: nameLabel ?? src.name_label,
    name_description: src.name_description,
    SR: sr,
    type: src.type,
    sharable: src.sharable,
    read_only: src.read_only,
    other_config: { ...src.other_config },
    sm_config: smConfig,
    xenstore_data: { ...src.xenstore_data },
    tags: [...src.tags],
  };
}

/**
 * VDI.clone and VDI.snapshot: a new VDI in the same SR holding the source's data as of now (raw: a
 * sparse copy; qcow2: copy-on-write over a frozen shared base). A snapshot is marked as such.
 */
export async function cloneVdi(
  ctx: Ctx,
  ref: string,
  opts: { nameLabel?: string; snapshot?: boolean } = {},
): Promise<string> {
  const src = read(ctx, 'VDI', ref);
  const storage = storageOf(ctx, src.SR);
  const { ref: newRef, uuid } = identity(ctx);
  const st = await storageCall(src.SR, () => storage.vdiClone(src.uuid, uuid));
  const fields = copiedFields(src, src.SR, opts.nameLabel);
  insertRecord(
    ctx,
    newRef,
    uuid,
    opts.snapshot === true
      ? { ...fields, is_a_snapshot: true, snapshot_of: ref, snapshot_time: now(ctx) }
      : fields,
    st,
  );
  return newRef;
}

/** Minimum change of task.progress worth a database write (each is replicated to the pool). */
const PROGRESS_STEP = 0.01;

/**
 * VDI.copy to another SR, or over `into` (which must be at least as large as the source). The data
 * flows through the storage drivers in chunks, holes kept, with the task's progress going 0 → 1;
 * task.cancel stops it with TASK_CANCELLED and leaves no new VDI (file or record) behind.
 * `base` (copy only the blocks that differ from it) is accepted and ignored: a full copy gives the
 * same result.
 */
export async function copyVdiToSr(
  ctx: Ctx,
  ref: string,
  sr: string,
  into: string,
  opts: { nameLabel?: string } = {},
): Promise<string> {
  const src = read(ctx, 'VDI', ref);
  const intoRec = into === NULL_REF ? undefined : read(ctx, 'VDI', into);
  const target = intoRec?.SR ?? sr;
  if (target === NULL_REF) throw new ApiError('HANDLE_INVALID', ['SR', sr]);
  read(ctx, 'SR', target);
  if (intoRec !== undefined) {
    if (into === ref) throw new ApiError('INVALID_VALUE', ['into_vdi', into]);
    if (intoRec.read_only) throw new ApiError('VDI_READONLY', [into]);
    if (intoRec.virtual_size < src.virtual_size)
      throw new ApiError('VDI_TOO_SMALL', [into, String(src.virtual_size)]);
    assertNotInUse(ctx, into, intoRec, 'copy');
  }
  // Both SRs must be readable here: the data goes from one driver's file to the other's.
  const from = ctx.svc.storage.get(src.SR);
  const to = ctx.svc.storage.get(target);
  if (from === undefined || to === undefined) {
    storageOf(ctx, src.SR);
    storageOf(ctx, target);
    throw new ApiError('OPERATION_NOT_ALLOWED', [
      'VDI.copy between SRs needs both SRs attached on the pool master',
    ]);
  }
  let reported = 0;
  const onProgress = (f: number) => {
    if (ctx.task === undefined || f - reported < PROGRESS_STEP || f >= 1) return;
    reported = f;
    const task = ctx.task;
    ctx.svc.db.transact((tx) => {
      if (tx.get('task', task)?.status === 'pending') tx.update('task', task, { progress: f });
    });
  };
  const source = await storageCall(src.SR, () => from.vdiSource(src.uuid));
  if (intoRec !== undefined) {
    const st = await storageCall(
      target,
      () => to.vdiImport(intoRec.uuid, source, { into: true, onProgress, signal: ctx.signal }),
      ctx,
    );
    ctx.svc.db.transact((tx) => {
      tx.update('VDI', into, { physical_utilisation: st.physicalUtilisation });
      refreshSrUsage(ctx, tx, target);
    });
    return into;
  }
  const { ref: newRef, uuid } = identity(ctx);
  const st = await storageCall(
    target,
    () => to.vdiImport(uuid, source, { onProgress, signal: ctx.signal }),
    ctx,
  );
  if (ctx.signal.aborted) {
    // Cancelled after the data landed: the new VDI must not outlive the task.
    await to.vdiDestroy(uuid).catch(() => undefined);
    throw new ApiError('TASK_CANCELLED', [ctx.task ?? ctx.opRef]);
  }
  insertRecord(ctx, newRef, uuid, copiedFields(src, target, opts.nameLabel), st);
  return newRef;
}

export async function resizeVdi(ctx: Ctx, ref: string, size: number): Promise<void> {
  const vdi = read(ctx, 'VDI', ref);
  if (!Number.isSafeInteger(size) || size < vdi.virtual_size)
    throw new ApiError('INVALID_VALUE', ['size', String(size)]);
  const st = await storageCall(vdi.SR, () => storageOf(ctx, vdi.SR).vdiResize(vdi.uuid, size));
  ctx.svc.db.transact((tx) => {
    tx.update('VDI', ref, { virtual_size: st.virtualSize, physical_utilisation: st.physicalUtilisation });
    refreshSrUsage(ctx, tx, vdi.SR);
  });
}

/**
 * SR.scan: refresh sizes from the driver; VDIs whose file vanished are marked missing, and files
 * with no record (an SR introduced again after sr-forget, or a restore) get one, as xapi's scan does.
 */
export async function scanSr(ctx: Ctx, sr: string): Promise<void> {
  const storage = storageOf(ctx, sr);
  const rec = read(ctx, 'SR', sr);
  const present = new Set(await storageCall(sr, () => storage.vdiList()));
  const stats = new Map<string, { virtualSize: number; physicalUtilisation: number }>();
  const known = new Set<string>();
  for (const v of rec.VDIs) {
    const vdi = read(ctx, 'VDI', v);
    known.add(vdi.uuid);
    if (present.has(vdi.uuid)) stats.set(v, await storageCall(sr, () => storage.vdiStat(vdi.uuid)));
  }
  const found = new Map<string, { virtualSize: number; physicalUtilisation: number }>();
  for (const uuid of present) {
    if (!known.has(uuid) && ctx.svc.db.refByUuid('VDI', uuid) === undefined)
      found.set(uuid, await storageCall(sr, () => storage.vdiStat(uuid)));
  }
  const srStat = await storageCall(sr, () => storage.stat());
  ctx.svc.db.transact((tx) => {
    for (const v of rec.VDIs) {
      const st = stats.get(v);
      if (tx.get('VDI', v) === undefined) continue;
      tx.update(
        'VDI',
        v,
        st === undefined
          ? { missing: true }
          : { missing: false, virtual_size: st.virtualSize, physical_utilisation: st.physicalUtilisation },
      );
    }
    for (const [uuid, st] of found) {
      tx.create('VDI', identity(ctx).ref, {
        uuid,
        SR: sr,
        location: uuid,
        type: 'user',
        managed: true,
        virtual_size: st.virtualSize,
        physical_utilisation: st.physicalUtilisation,
        allowed_operations: ['clone', 'copy', 'destroy', 'resize', 'snapshot'],
      });
    }
    tx.update('SR', sr, { physical_size: srStat.physicalSize });
    refreshSrUsage(ctx, tx, sr);
  });
}

export { storageCall };
