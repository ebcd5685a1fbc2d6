// VDIs: the record in the DB and the file behind it on the SR's storage driver. A VDI record is
// written only after its file exists, and removed before its file is, so a crash in between leaves
// at most an orphan file (found by SR.scan), never a record without data.
import { isRef } from '../../base/ids.js';
import { StorageError } from '../../drivers/storage/driver.js';
import type { StorageDriver } from '../../drivers/storage/driver.js';
import { ApiError } from '../../model/errors.js';
import type { Rec } from '../../model/index.js';
import { NULL_REF } from '../../model/types.js';
import type { Ctx } from '../context.js';
import { storageAnywhere } from '../host/agent.js';
import { identity, read } from '../util.js';

type VDI = Rec<'VDI'>;

export function storageOf(ctx: Ctx, sr: string): StorageDriver {
  read(ctx, 'SR', sr);
  // This host's driver if it has the SR attached, else that of a member that has.
  const s = storageAnywhere(ctx, sr);
  if (s === undefined) throw new ApiError('SR_HAS_NO_PBDS', [sr]);
  return s;
}

async function storageCall<T>(sr: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof StorageError) {
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
  const { ref, uuid } = identity(ctx);
  const st = await storageCall(sr, () => storage.vdiCreate(uuid, size));
  insertRecord(ctx, ref, uuid, args, st);
  return ref;
}

function insertRecord(
  ctx: Ctx,
  ref: string,
  uuid: string,
  args: Partial<VDI>,
  st: { virtualSize: number; physicalUtilisation: number },
): void {
  ctx.svc.db.transact((tx) => {
    tx.create('VDI', ref, {
      ...args,
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
  const to = storageOf(ctx, target);
  const from = storageOf(ctx, src.SR);
  const { ref: newRef, uuid } = identity(ctx);
  const st =
    target === src.SR
      ? await storageCall(target, () => to.vdiClone(src.uuid, uuid))
      : await storageCall(target, async () => {
          await to.vdiCreate(uuid, src.virtual_size);
          const { copyFile } = await import('node:fs/promises');
          await copyFile(from.vdiPath(src.uuid), to.vdiPath(uuid));
          return to.vdiStat(uuid);
        });
  insertRecord(
    ctx,
    newRef,
    uuid,
    {
      name_label: nameLabel ?? src.name_label,
      name_description: src.name_description,
      SR: target,
      type: src.type,
      sharable: src.sharable,
      read_only: src.read_only,
      other_config: { ...src.other_config },
      sm_config: { ...src.sm_config },
      xenstore_data: { ...src.xenstore_data },
      tags: [...src.tags],
    },
    st,
  );
  return newRef;
}

export async function resizeVdi(ctx: Ctx, ref: string, size: number): Promise<void> {
  const vdi = read(ctx, 'VDI', ref);
  if (size < vdi.virtual_size) throw new ApiError('INVALID_VALUE', ['size', String(size)]);
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
