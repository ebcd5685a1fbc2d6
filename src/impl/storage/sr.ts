// SR lifecycle: create (SR + PBD on its host, or one PBD per host for a shared SR, attached),
// introduce (record only), forget (records only, data kept) and destroy (records and data); PBD
// create/destroy/plug/unplug, which attach and detach the storage driver on the PBD's own host.
import { ApiError } from '../../model/errors.js';
import type { Rec } from '../../model/index.js';
import { NULL_REF } from '../../model/types.js';
import { isAbsolute } from 'node:path';
import { newRef, newUuid } from '../../base/ids.js';
import { StorageError } from '../../drivers/storage/driver.js';
import type { Ctx, Services } from '../context.js';
import { storageOn } from '../host/agent.js';
import { createMessage } from '../misc.js';
import { identity, read } from '../util.js';
import { planHostPbds, vdisInUseOn, type PlanPbd, type PlanSr, type PlanVbd } from './pbd-plan.js';

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

/** The device_config key that names a directory SR's directory: `location` (file) or `path` (ext). */
function assertDeviceConfig(type: string, deviceConfig: Record<string, string>): void {
  const key = type === 'file' ? 'location' : 'path';
  const dir = deviceConfig[key];
  if (dir === undefined || dir === '') throw new ApiError('INVALID_VALUE', [`device_config:${key}`, '']);
  // Every host resolves it alone: a relative path would name a different place on each.
  if (!isAbsolute(dir)) throw new ApiError('INVALID_VALUE', [`device_config:${key}`, dir]);
}

/** A storage failure while attaching, reported as xapi reports its SM backends' failures. */
function backendFailure(e: unknown): unknown {
  if (e instanceof StorageError) return new ApiError('SR_BACKEND_FAILURE', [e.code, '', e.message]);
  return e;
}

/** A member that is not streaming from this master cannot be asked anything: HOST_OFFLINE. */
function assertReachable(ctx: Ctx, host: string): void {
  read(ctx, 'host', host);
  if (host !== ctx.svc.hostRef && !ctx.svc.cluster.isConnected(host))
    throw new ApiError('HOST_OFFLINE', [host]);
}

/** xapi's sharing constraint: a non-shared SR is attached on one host at a time. */
function assertSharable(ctx: Ctx, pbd: Rec<'PBD'>, sr: Rec<'SR'>): void {
  if (sr.shared) return;
  for (const p of sr.PBDs) {
    const other = ctx.svc.db.get('PBD', p) as Rec<'PBD'> | undefined;
    if (other !== undefined && other.host !== pbd.host && other.currently_attached)
      throw new ApiError('SR_NOT_SHARED', [pbd.SR]);
  }
}

/** Attaches the SR on the PBD's own host (directly here, through the agent on a member). */
async function attach(ctx: Ctx, pbdRef: string): Promise<void> {
  const pbd = read(ctx, 'PBD', pbdRef);
  const sr = read(ctx, 'SR', pbd.SR);
  assertType(ctx, sr.type);
  assertDeviceConfig(sr.type, pbd.device_config);
  assertSharable(ctx, pbd, sr);
  assertReachable(ctx, pbd.host);
  const st = await storageOn(ctx, pbd.host)
    .plug(pbd.SR, sr.type, pbd.device_config)
    .catch((e: unknown) => {
      throw backendFailure(e);
    });
  ctx.svc.db.transact((tx) => {
    if (tx.get('PBD', pbdRef) === undefined) return;
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

/**
 * SR.create: the storage is made on `host` first, so a bad device_config fails before any record
 * exists. A shared SR then gets one PBD per host of the pool, each attached on its own host. As in
 * xapi, a host that cannot attach it (it is offline, or cannot reach the storage) does not fail
 * the create: its PBD stays unattached, a warning and an SR message say why, and pbd-plug retries.
 */
export async function createSr(
  ctx: Ctx,
  host: string,
  deviceConfig: Record<string, string>,
  _physicalSize: number,
  nameLabel: string,
  nameDescription: string,
  type: string,
  contentType: string,
  shared: boolean,
  smConfig: Record<string, string>,
): Promise<string> {
  read(ctx, 'host', host);
  assertType(ctx, type);
  assertDeviceConfig(type, deviceConfig);
  assertReachable(ctx, host);
  const sr = identity(ctx);
  const hosts = shared ? [host, ...[...ctx.svc.db.all('host').keys()].filter((h) => h !== host)] : [host];
  const pbds = hosts.map((h) => ({ host: h, ...identity(ctx) }));
  const st = await storageOn(ctx, host)
    .plug(sr.ref, type, deviceConfig)
    .catch((e: unknown) => {
      throw backendFailure(e);
    });
  try {
    ctx.svc.db.transact((tx) => {
      tx.create('SR', sr.ref, {
        ...srRecord(sr.uuid, { nameLabel, nameDescription, type, contentType, shared, smConfig }),
        // What the storage reports (a directory SR ignores the size asked for, like xapi's file SR).
        physical_size: st.physicalSize,
      });
      for (const p of pbds)
        tx.create('PBD', p.ref, {
          uuid: p.uuid,
          host: p.host,
          SR: sr.ref,
          device_config: deviceConfig,
          currently_attached: p.host === host,
        });
    });
  } catch (e) {
    await storageOn(ctx, host)
      .unplug(sr.ref)
      .catch(() => undefined);
    throw e;
  }
  for (const p of pbds.slice(1)) {
    try {
      await attach(ctx, p.ref);
    } catch (e) {
      const why = e instanceof ApiError ? [e.code, ...e.params].join(' ') : String(e);
      const name = ctx.svc.db.get('host', p.host)?.name_label;
      ctx.log.warn(
        { sr: sr.uuid, pbd: p.uuid, host: p.host, err: why },
        'could not plug the PBD of a new SR',
      );
      createMessage(
        ctx,
        'PBD_PLUG_FAILED',
        3,
        'SR',
        sr.uuid,
        `The PBD ${p.uuid} of host ${String(name)} could not be plugged: ${why}. Plug it with xe pbd-plug uuid=${p.uuid}.`,
      );
    }
  }
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

/**
 * SR.destroy: like sr-forget, refused while a PBD is attached (unplug them first, as xapi wants);
 * the data goes too, removed on a host that has a PBD for the SR (this one if it has).
 */
export async function destroySr(ctx: Ctx, srRef: string): Promise<void> {
  const sr = read(ctx, 'SR', srRef);
  assertNoAttachedPbd(ctx, srRef, sr);
  assertNotDefault(ctx, srRef);
  const pbds = sr.PBDs.map((p) => read(ctx, 'PBD', p));
  const pbd = pbds.find((p) => p.host === ctx.svc.hostRef) ?? pbds[0];
  if (pbd === undefined) throw new ApiError('SR_HAS_NO_PBDS', [srRef]);
  assertType(ctx, sr.type);
  assertDeviceConfig(sr.type, pbd.device_config);
  assertReachable(ctx, pbd.host);
  // Everything on the SR goes, including files no record names (xapi deletes the whole SR).
  await storageOn(ctx, pbd.host)
    .wipe(sr.type, pbd.device_config)
    .catch((e: unknown) => {
      throw backendFailure(e);
    });
  dropRecords(ctx, srRef, sr);
}

/** PBD.create: one PBD per host and SR (PBD_EXISTS), not attached until pbd-plug. */
export function createPbd(ctx: Ctx, args: Partial<Rec<'PBD'>>): string {
  const host = args.host ?? NULL_REF;
  const srRef = args.SR ?? NULL_REF;
  read(ctx, 'host', host);
  const sr = read(ctx, 'SR', srRef);
  for (const p of sr.PBDs)
    if (ctx.svc.db.get('PBD', p)?.host === host) throw new ApiError('PBD_EXISTS', [srRef, host, p]);
  const { ref, uuid } = identity(ctx);
  ctx.svc.db.transact((tx) =>
    tx.create('PBD', ref, {
      ...args,
      device_config: args.device_config ?? {},
      uuid,
      currently_attached: false,
    }),
  );
  return ref;
}

export function destroyPbd(ctx: Ctx, pbd: string): void {
  if (read(ctx, 'PBD', pbd).currently_attached) throw new ApiError('DEVICE_ALREADY_ATTACHED', [pbd]);
  ctx.svc.db.transact((tx) => tx.delete('PBD', pbd));
}

/** PBD.plug, run on the PBD's host; plugging an attached PBD does nothing. */
export async function plugPbd(ctx: Ctx, pbd: string): Promise<void> {
  if (read(ctx, 'PBD', pbd).currently_attached) return;
  await attach(ctx, pbd);
}

/**
 * PBD.unplug, run on the PBD's host: refused (VDI_IN_USE) while a VM running on that host has a
 * disk on the SR. A member that cannot be reached is HOST_OFFLINE and its PBD stays attached.
 */
export async function unplugPbd(ctx: Ctx, pbd: string): Promise<void> {
  const rec = read(ctx, 'PBD', pbd);
  if (!rec.currently_attached) return;
  const srVdis = new Set(read(ctx, 'SR', rec.SR).VDIs);
  const vbds: PlanVbd[] = [];
  for (const row of ctx.svc.db.all('VBD').values()) {
    const vbd = row.rec as Rec<'VBD'>;
    if (vbd.empty || !srVdis.has(vbd.VDI)) continue;
    const vm = ctx.svc.db.get('VM', vbd.VM) as Rec<'VM'> | undefined;
    const running = vm !== undefined && (vm.power_state === 'Running' || vm.power_state === 'Paused');
    vbds.push({ vdi: vbd.VDI, runningOn: running ? vm.resident_on : undefined });
  }
  const busy = vdisInUseOn(rec.host, srVdis, vbds)[0];
  if (busy !== undefined) throw new ApiError('VDI_IN_USE', [busy, 'unplug']);
  assertReachable(ctx, rec.host);
  await storageOn(ctx, rec.host).unplug(rec.SR);
  ctx.svc.db.transact((tx) => tx.update('PBD', pbd, { currently_attached: false }));
}

/**
 * On the master, when a member joins or reconnects: every shared SR gets a PBD for it (xapi does
 * this at join), and its PBDs recorded as attached are attached on it again, so its drivers match
 * the database. A PBD that cannot be attached is recorded as not attached.
 */
export async function attachHostStorage(svc: Services, host: string): Promise<void> {
  const srs: PlanSr[] = [];
  for (const [ref, row] of svc.db.all('SR')) {
    const sr = row.rec as Rec<'SR'>;
    const pbds: PlanPbd[] = [];
    for (const p of sr.PBDs) {
      const pbd = svc.db.get('PBD', p) as Rec<'PBD'> | undefined;
      if (pbd !== undefined)
        pbds.push({
          ref: p,
          host: pbd.host,
          deviceConfig: pbd.device_config,
          attached: pbd.currently_attached,
        });
    }
    srs.push({ ref, shared: sr.shared, pbds });
  }
  const plan = planHostPbds(host, srs);
  const created: string[] = [];
  if (plan.create.length > 0)
    svc.db.transact((tx) => {
      if (tx.get('host', host) === undefined) return;
      for (const c of plan.create) {
        const ref = newRef(svc.random);
        tx.create('PBD', ref, {
          uuid: newUuid(svc.random),
          host,
          SR: c.sr,
          device_config: c.deviceConfig,
          currently_attached: false,
        });
        created.push(ref);
      }
    });
  const ctx = { svc, log: svc.log } as Ctx;
  for (const pbd of [...plan.plug, ...created]) {
    try {
      await attach(ctx, pbd);
    } catch (e) {
      svc.log.warn({ host, pbd, err: String(e) }, 'could not attach a PBD of a (re)connected host');
      svc.db.transact((tx) => {
        if (tx.get('PBD', pbd) !== undefined) tx.update('PBD', pbd, { currently_attached: false });
      });
    }
  }
}
