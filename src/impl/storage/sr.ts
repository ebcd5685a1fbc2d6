// SR lifecycle: create (SR + PBD on this host, attached), introduce (record only), forget
// (records only, data kept) and destroy (records and data); PBD create/destroy/plug/unplug, which
// attach and detach the storage driver on this host.
import { ApiError } from '../../model/errors.js';
import type { Rec } from '../../model/index.js';
import { NULL_REF } from '../../model/types.js';
import type { Ctx } from '../context.js';
import { storageAnywhere } from '../host/agent.js';
import { identity, read } from '../util.js';

/** What a directory SR allows (SR.allowed_operations). */
const srOperations = [
  'scan',
  'vdi_create',
  'vdi_destroy',
  'vdi_clone',
  'vdi_resize',
  'destroy',
  'forget',
  'plug',
  'unplug',
] as const;

function assertType(ctx: Ctx, type: string): void {
  if (!ctx.svc.storageTypes.includes(type)) throw new ApiError('SR_UNKNOWN_DRIVER', [type]);
}

/** Opens the SR's storage on this host and records the PBD as attached. */
async function attach(ctx: Ctx, pbdRef: string): Promise<void> {
  const pbd = read(ctx, 'PBD', pbdRef);
  const sr = read(ctx, 'SR', pbd.SR);
  if (pbd.host !== ctx.svc.hostRef)
    throw new ApiError('OPERATION_NOT_ALLOWED', ['The PBD belongs to another host']);
  const drv = ctx.svc.openStorage(sr.type, pbd.device_config);
  await drv.attach();
  ctx.svc.storage.set(pbd.SR, drv);
  const st = await drv.stat();
  ctx.svc.db.transact((tx) => {
    tx.update('PBD', pbdRef, { currently_attached: true });
    tx.update('SR', pbd.SR, { physical_size: st.physicalSize });
  });
}

interface SrDescription {
  nameLabel: string;
  nameDescription: string;
  type: string;
  contentType: string;
  shared: boolean;
  smConfig: Record<string, string>;
}

/** The SR record that SR.create and SR.introduce both make. */
function srRecord(uuid: string, d: SrDescription): Partial<Rec<'SR'>> {
  return {
    uuid,
    name_label: d.nameLabel,
    name_description: d.nameDescription,
    type: d.type,
    content_type: d.contentType,
    shared: d.shared,
    sm_config: d.smConfig,
    allowed_operations: [...srOperations],
  };
}

export async function createSr(
  ctx: Ctx,
  host: string,
  deviceConfig: Record<string, string>,
  physicalSize: number,
  nameLabel: string,
  nameDescription: string,
  type: string,
  contentType: string,
  shared: boolean,
  smConfig: Record<string, string>,
): Promise<string> {
  read(ctx, 'host', host);
  assertType(ctx, type);
  const key = type === 'file' ? 'location' : 'path';
  if (deviceConfig[key] === undefined || deviceConfig[key] === '')
    throw new ApiError('INVALID_VALUE', [`device_config:${key}`, '']);
  // Open it first: a bad path must fail before any record exists.
  await ctx.svc.openStorage(type, deviceConfig).attach();
  const sr = identity(ctx);
  const pbd = identity(ctx);
  ctx.svc.db.transact((tx) => {
    tx.create('SR', sr.ref, {
      ...srRecord(sr.uuid, { nameLabel, nameDescription, type, contentType, shared, smConfig }),
      physical_size: physicalSize,
    });
    tx.create('PBD', pbd.ref, {
      uuid: pbd.uuid,
      host,
      SR: sr.ref,
      device_config: deviceConfig,
      currently_attached: false,
    });
  });
  await attach(ctx, pbd.ref);
  return sr.ref;
}

export function introduceSr(
  ctx: Ctx,
  uuid: string,
  nameLabel: string,
  nameDescription: string,
  type: string,
  contentType: string,
  shared: boolean,
  smConfig: Record<string, string>,
): string {
  assertType(ctx, type);
  if (ctx.svc.db.refByUuid('SR', uuid) !== undefined) throw new ApiError('INVALID_VALUE', ['uuid', uuid]);
  const { ref } = identity(ctx);
  ctx.svc.db.transact((tx) =>
    tx.create('SR', ref, srRecord(uuid, { nameLabel, nameDescription, type, contentType, shared, smConfig })),
  );
  return ref;
}

function assertNoAttachedPbd(ctx: Ctx, srRef: string, sr: Rec<'SR'>): void {
  for (const p of sr.PBDs)
    if (ctx.svc.db.get('PBD', p)?.currently_attached === true) throw new ApiError('SR_HAS_PBD', [srRef]);
}

function assertNotDefault(ctx: Ctx, srRef: string): void {
  for (const row of ctx.svc.db.all('pool').values()) {
    if ((row.rec as Rec<'pool'>).default_SR === srRef)
      throw new ApiError('OPERATION_NOT_ALLOWED', [
        "The SR is the pool's default SR; set another default-SR first",
      ]);
  }
}

/** Drops the SR's records (VDIs, PBDs, SR); VBDs pointing at its VDIs become empty drives. */
function dropRecords(ctx: Ctx, srRef: string, sr: Rec<'SR'>): void {
  ctx.svc.db.transact((tx) => {
    for (const v of sr.VDIs) {
      const vdi = tx.get('VDI', v) as Rec<'VDI'> | undefined;
      for (const vbd of vdi?.VBDs ?? [])
        if (tx.get('VBD', vbd) !== undefined) tx.update('VBD', vbd, { VDI: NULL_REF, empty: true });
      if (vdi !== undefined) tx.delete('VDI', v);
    }
    for (const p of sr.PBDs) if (tx.get('PBD', p) !== undefined) tx.delete('PBD', p);
    tx.delete('SR', srRef);
  });
  ctx.svc.storage.delete(srRef);
}

export function forgetSr(ctx: Ctx, srRef: string): void {
  const sr = read(ctx, 'SR', srRef);
  assertNoAttachedPbd(ctx, srRef, sr);
  assertNotDefault(ctx, srRef);
  dropRecords(ctx, srRef, sr);
}

/** Destroys the data too: the SR must still be attached here so its VDIs can be removed. */
export async function destroySr(ctx: Ctx, srRef: string): Promise<void> {
  const sr = read(ctx, 'SR', srRef);
  assertNotDefault(ctx, srRef);
  const drv = storageAnywhere(ctx, srRef);
  if (drv === undefined) throw new ApiError('SR_HAS_NO_PBDS', [srRef]);
  for (const v of sr.VDIs) {
    for (const vbd of read(ctx, 'VDI', v).VBDs)
      if (ctx.svc.db.get('VBD', vbd)?.currently_attached === true)
        throw new ApiError('VDI_IN_USE', [v, 'destroy']);
  }
  // Everything on the SR goes, including files no record names (xapi deletes the whole SR).
  for (const uuid of await drv.vdiList()) await drv.vdiDestroy(uuid);
  dropRecords(ctx, srRef, sr);
}

export function createPbd(ctx: Ctx, args: Partial<Rec<'PBD'>>): string {
  read(ctx, 'host', args.host ?? NULL_REF);
  read(ctx, 'SR', args.SR ?? NULL_REF);
  const { ref, uuid } = identity(ctx);
  ctx.svc.db.transact((tx) => tx.create('PBD', ref, { ...args, uuid, currently_attached: false }));
  return ref;
}

export function destroyPbd(ctx: Ctx, pbd: string): void {
  if (read(ctx, 'PBD', pbd).currently_attached) throw new ApiError('DEVICE_ALREADY_ATTACHED', [pbd]);
  ctx.svc.db.transact((tx) => tx.delete('PBD', pbd));
}

export async function plugPbd(ctx: Ctx, pbd: string): Promise<void> {
  if (read(ctx, 'PBD', pbd).currently_attached) return;
  await attach(ctx, pbd);
}

export function unplugPbd(ctx: Ctx, pbd: string): void {
  const rec = read(ctx, 'PBD', pbd);
  for (const v of read(ctx, 'SR', rec.SR).VDIs) {
    for (const vbd of read(ctx, 'VDI', v).VBDs) {
      if (ctx.svc.db.get('VBD', vbd)?.currently_attached === true)
        throw new ApiError('VDI_IN_USE', [v, 'unplug']);
    }
  }
  ctx.svc.db.transact((tx) => tx.update('PBD', pbd, { currently_attached: false }));
  if (rec.host === ctx.svc.hostRef) ctx.svc.storage.delete(rec.SR);
}
