// VM power operations: start, shutdown, reboot, pause, suspend, resume and power_state_reset.
// Each runs under its operation lock; the DB is changed only after the hypervisor did the work,
// so a failed driver call leaves the VM in the state it really is in.
import { ApiError } from '../../model/errors.js';
import type { Tx } from '../../db/db.js';
import type { Rec } from '../../model/index.js';
import { NULL_REF } from '../../model/types.js';
import type { Ctx } from '../context.js';
import { createVdi, destroyVdiRecordAndFile } from '../storage/vdi.js';
import { agentOf, hostsSeeing } from '../host/agent.js';
import { read } from '../util.js';
import { domainSpec, driverCall } from './domain.js';
import { checkOperation } from './operations.js';
import { choosePlacement, hostRefusal, type HostView, type VmNeeds } from './placement.js';
import {
  footprint,
  hostFreeMemory,
  markNoDomain,
  markResident,
  releaseReservation,
  withVmOp,
} from './state.js';

type VM = Rec<'VM'>;

/** The SRs a VM needs to see: those of its disks and of its suspend image. */
function requiredSrs(ctx: Ctx, rec: VM): string[] {
  const srs = new Set<string>();
  for (const vbdRef of rec.VBDs) {
    const vbd = read(ctx, 'VBD', vbdRef);
    if (!vbd.empty && vbd.VDI !== NULL_REF) srs.add(read(ctx, 'VDI', vbd.VDI).SR);
  }
  if (rec.suspend_VDI !== NULL_REF) srs.add(read(ctx, 'VDI', rec.suspend_VDI).SR);
  return [...srs];
}

/**
 * The facts placement decides on, for `vm` and each of `hosts`, read inside `tx` so memory held
 * by domains and by reservations of VMs being started or migrated (scheduled_to_be_resident_on)
 * counts as used. Without a VM, the facts that do not depend on one (liveness, enabled, memory).
 */
export function hostViews(ctx: Ctx, tx: Tx, vm: string | undefined, hosts: readonly string[]): HostView[] {
  const rec = vm === undefined ? undefined : (tx.get('VM', vm) as VM | undefined);
  if (vm !== undefined && rec === undefined) throw new ApiError('HANDLE_INVALID', ['VM', vm]);
  const srs = rec === undefined ? [] : requiredSrs(ctx, rec);
  const seers = srs.map((sr) => [sr, new Set(hostsSeeing(ctx, [sr]))] as const);
  return hosts.map((host) => {
    const h = tx.get('host', host) as Rec<'host'> | undefined;
    if (h === undefined) throw new ApiError('HANDLE_INVALID', ['host', host]);
    const metrics = tx.get('host_metrics', h.metrics) as Rec<'host_metrics'> | undefined;
    const reachable = host === ctx.svc.hostRef || ctx.svc.cluster.isConnected(host);
    const missingSr = seers.find(([, seen]) => !seen.has(host))?.[0];
    return {
      host,
      live: reachable && metrics?.live === true,
      enabled: h.enabled,
      freeBytes: hostFreeMemory(tx, ctx.svc, host).free,
      ...(missingSr === undefined ? {} : { missingSr }),
    };
  });
}

export function vmNeeds(ctx: Ctx, vm: string, rec: VM): VmNeeds {
  return { vm, memoryBytes: footprint(rec), affinity: rec.affinity, preferred: ctx.svc.hostRef };
}

/** Every host of the pool, this one first (the order placement breaks ties in). */
export function poolHosts(ctx: Ctx): string[] {
  return [ctx.svc.hostRef, ...[...ctx.svc.db.all('host').keys()].filter((h) => h !== ctx.svc.hostRef)];
}

/**
 * The host `vm` boots on: `host` if given and it qualifies (else its specific error), otherwise
 * the choice of choosePlacement among all hosts. Read-only: it commits nothing.
 */
function decideHost(ctx: Ctx, vm: string, host: string | undefined): string {
  let chosen = '';
  ctx.svc.db.transact((tx) => {
    const rec = tx.get('VM', vm) as VM;
    const needs = vmNeeds(ctx, vm, rec);
    if (host !== undefined) {
      const [view] = hostViews(ctx, tx, vm, [host]) as [HostView];
      const refusal = hostRefusal(view, needs);
      if (refusal !== undefined) throw new ApiError(refusal[0], refusal[1]);
      chosen = host;
      return;
    }
    const p = choosePlacement(hostViews(ctx, tx, vm, poolHosts(ctx)), needs);
    if ('refusal' in p) throw new ApiError(p.refusal[0], p.refusal[1]);
    chosen = p.host;
  });
  return chosen;
}

/**
 * Reserves the VM's memory on `host` (scheduled_to_be_resident_on) after checking, in the same
 * transaction, that the host still qualifies; refused with the host's specific error.
 */
export function reserveOn(ctx: Ctx, vm: string, host: string): void {
  ctx.svc.db.transact((tx) => {
    const rec = tx.get('VM', vm) as VM;
    const [view] = hostViews(ctx, tx, vm, [host]) as [HostView];
    const refusal = hostRefusal(view, vmNeeds(ctx, vm, rec));
    if (refusal !== undefined) throw new ApiError(refusal[0], refusal[1]);
    tx.update('VM', vm, { scheduled_to_be_resident_on: host });
  });
}

async function boot(ctx: Ctx, ref: string, host: string, paused: boolean, image?: string): Promise<void> {
  reserveOn(ctx, ref, host);
  try {
    const vm = read(ctx, 'VM', ref);
    const spec = domainSpec(ctx, ref, vm, host);
    const hv = agentOf(ctx, host);
    const d = await driverCall(ref, vm, () =>
      image === undefined ? hv.vm.create(spec, { paused }) : hv.vm.resume(spec, image, { paused }),
    );
    try {
      ctx.svc.db.transact((tx) => markResident(ctx.svc, tx, ref, paused ? 'Paused' : 'Running', host, d));
    } catch (e) {
      // The DB could not record the domain: destroy it, so no guest runs that the pool does not know of.
      await hv.vm.shutdown(vm.uuid, { clean: false });
      throw e;
    }
  } catch (e) {
    releaseReservation(ctx, ref);
    throw e;
  }
}

/**
 * Refuses a start that cannot succeed before the operation lock is taken, so a refused start
 * commits nothing (the start repeats these checks under the lock).
 */
function precheckStart(ctx: Ctx, vm: string, op: string, host: string | undefined): void {
  const rec = read(ctx, 'VM', vm);
  const err = checkOperation(vm, rec, op);
  if (err !== undefined) throw err;
  // VM.create does not insist on VCPUs; a VM without any must not reach the driver (xapi validate_vcpus).
  if (rec.VCPUs_at_startup < 1)
    throw new ApiError('INVALID_VALUE', ['VCPUs_at_startup', String(rec.VCPUs_at_startup)]);
  decideHost(ctx, vm, host);
}

/** VM.start: placed by choosePlacement, decided again under the lock and reserved at once. */
export async function start(ctx: Ctx, vm: string, startPaused: boolean, _force: boolean): Promise<void> {
  precheckStart(ctx, vm, 'start', undefined);
  return withVmOp(ctx, vm, 'start', () => boot(ctx, vm, decideHost(ctx, vm, undefined), startPaused));
}

export async function startOn(
  ctx: Ctx,
  vm: string,
  host: string,
  startPaused: boolean,
  _force: boolean,
): Promise<void> {
  precheckStart(ctx, vm, 'start_on', host);
  return withVmOp(ctx, vm, 'start_on', () => boot(ctx, vm, host, startPaused));
}

/** VM.assert_can_boot_here: the checks start_on makes on `host`, without starting anything. */
export function assertCanBootHere(ctx: Ctx, vm: string, host: string): void {
  read(ctx, 'VM', vm);
  read(ctx, 'host', host);
  decideHost(ctx, vm, host);
}

/** VM.get_possible_hosts: the hosts the VM could boot on now (start_on's checks pass). */
export function possibleHosts(ctx: Ctx, vm: string): string[] {
  let out: string[] = [];
  ctx.svc.db.transact((tx) => {
    const rec = tx.get('VM', vm) as VM | undefined;
    if (rec === undefined) throw new ApiError('HANDLE_INVALID', ['VM', vm]);
    const needs = vmNeeds(ctx, vm, rec);
    out = hostViews(ctx, tx, vm, poolHosts(ctx))
      .filter((v) => hostRefusal(v, needs) === undefined)
      .map((v) => v.host);
  });
  return out;
}

export function pause(ctx: Ctx, vm: string): Promise<void> {
  return withVmOp(ctx, vm, 'pause', async (rec) => {
    const d = await driverCall(vm, rec, () => agentOf(ctx, rec.resident_on).vm.pause(rec.uuid));
    ctx.svc.db.transact((tx) => markResident(ctx.svc, tx, vm, 'Paused', rec.resident_on, d));
  });
}

export function unpause(ctx: Ctx, vm: string): Promise<void> {
  return withVmOp(ctx, vm, 'unpause', async (rec) => {
    const d = await driverCall(vm, rec, () => agentOf(ctx, rec.resident_on).vm.unpause(rec.uuid));
    ctx.svc.db.transact((tx) => markResident(ctx.svc, tx, vm, 'Running', rec.resident_on, d));
  });
}

async function stopDomain(ctx: Ctx, vm: string, rec: VM, clean: boolean): Promise<void> {
  if (rec.power_state === 'Suspended') {
    // A suspended VM has no domain: a hard shutdown discards its memory image.
    const image = rec.suspend_VDI;
    ctx.svc.db.transact((tx) => {
      tx.update('VM', vm, { suspend_VDI: NULL_REF });
      markNoDomain(ctx.svc, tx, vm, 'Halted');
    });
    if (image !== NULL_REF) await destroyVdiRecordAndFile(ctx, image);
    return;
  }
  await driverCall(vm, rec, () => agentOf(ctx, rec.resident_on).vm.shutdown(rec.uuid, { clean }));
  ctx.svc.db.transact((tx) => markNoDomain(ctx.svc, tx, vm, 'Halted'));
}

export function cleanShutdown(ctx: Ctx, vm: string): Promise<void> {
  return withVmOp(ctx, vm, 'clean_shutdown', (rec) => stopDomain(ctx, vm, rec, true));
}

export function hardShutdown(ctx: Ctx, vm: string): Promise<void> {
  return withVmOp(ctx, vm, 'hard_shutdown', (rec) => stopDomain(ctx, vm, rec, false));
}

/** VM.shutdown: clean when the guest can cooperate (running), otherwise hard. */
export function shutdown(ctx: Ctx, vm: string): Promise<void> {
  return withVmOp(ctx, vm, 'shutdown', (rec) => stopDomain(ctx, vm, rec, rec.power_state === 'Running'));
}

function reboot(ctx: Ctx, vm: string, clean: boolean): Promise<void> {
  return withVmOp(ctx, vm, clean ? 'clean_reboot' : 'hard_reboot', async (rec) => {
    const d = await driverCall(vm, rec, () => agentOf(ctx, rec.resident_on).vm.reboot(rec.uuid, { clean }));
    ctx.svc.db.transact((tx) => markResident(ctx.svc, tx, vm, 'Running', rec.resident_on, d));
  });
}

export const cleanReboot = (ctx: Ctx, vm: string) => reboot(ctx, vm, true);
export const hardReboot = (ctx: Ctx, vm: string) => reboot(ctx, vm, false);

/** The SR suspend images go to: pool.suspend_image_SR, else the default SR, as `host` sees it. */
function suspendSr(ctx: Ctx, host: string): string {
  for (const row of ctx.svc.db.all('pool').values()) {
    const pool = row.rec as Rec<'pool'>;
    for (const sr of [pool.suspend_image_SR, pool.default_SR]) {
      if (sr !== NULL_REF && agentOf(ctx, host).storage(sr) !== undefined) return sr;
    }
  }
  throw new ApiError('SR_HAS_NO_PBDS', [NULL_REF]);
}

export function suspend(ctx: Ctx, vm: string): Promise<void> {
  return withVmOp(ctx, vm, 'suspend', async (rec) => {
    const image = await createVdi(ctx, {
      name_label: `Suspend image for ${rec.name_label}`,
      SR: suspendSr(ctx, rec.resident_on),
      virtual_size: rec.memory_static_max,
      type: 'suspend',
    });
    try {
      const path = imagePath(ctx, image, rec.resident_on);
      await driverCall(vm, rec, () => agentOf(ctx, rec.resident_on).vm.suspend(rec.uuid, path));
    } catch (e) {
      await destroyVdiRecordAndFile(ctx, image);
      throw e;
    }
    ctx.svc.db.transact((tx) => {
      tx.update('VM', vm, { suspend_VDI: image, suspend_SR: read(ctx, 'VDI', image).SR });
      markNoDomain(ctx.svc, tx, vm, 'Suspended');
    });
  });
}

function imagePath(ctx: Ctx, vdi: string, host: string): string {
  const rec = read(ctx, 'VDI', vdi);
  const storage = agentOf(ctx, host).storage(rec.SR);
  if (storage === undefined) throw new ApiError('SR_HAS_NO_PBDS', [rec.SR]);
  return storage.vdiPath(rec.uuid);
}

async function resumeOn(
  ctx: Ctx,
  vm: string,
  on: string | undefined,
  paused: boolean,
  op: string,
): Promise<void> {
  // Refused before the lock, like a start, so a refused resume commits nothing.
  const err = checkOperation(vm, read(ctx, 'VM', vm), op);
  if (err !== undefined) throw err;
  decideHost(ctx, vm, on);
  return withVmOp(ctx, vm, op, async (rec) => {
    const image = rec.suspend_VDI;
    if (image === NULL_REF)
      throw new ApiError('VM_BAD_POWER_STATE', [vm, 'suspended', 'suspended (no image)']);
    // The image path is the chosen host's view of the SR, so the host is decided first.
    const host = decideHost(ctx, vm, on);
    await boot(ctx, vm, host, paused, imagePath(ctx, image, host));
    ctx.svc.db.transact((tx) => tx.update('VM', vm, { suspend_VDI: NULL_REF }));
    await destroyVdiRecordAndFile(ctx, image);
  });
}

export function resume(ctx: Ctx, vm: string, startPaused: boolean, _force: boolean): Promise<void> {
  return resumeOn(ctx, vm, undefined, startPaused, 'resume');
}

export function resumeOnHost(ctx: Ctx, vm: string, host: string, startPaused: boolean, _force: boolean) {
  return resumeOn(ctx, vm, host, startPaused, 'resume_on');
}

/**
 * xe vm-reset-powerstate: an operator override of the database after a host failure. Refused when
 * a domain still exists here or the VM's host is live (xapi_vm.ml power_state_reset).
 */
export async function powerStateReset(ctx: Ctx, vm: string): Promise<void> {
  const rec = read(ctx, 'VM', vm);
  if (rec.is_control_domain) throw new ApiError('CANNOT_RESET_CONTROL_DOMAIN', [vm]);
  if (rec.power_state === 'Running' || rec.power_state === 'Paused') {
    if (rec.resident_on === ctx.svc.hostRef) {
      const d = await agentOf(ctx, ctx.svc.hostRef).vm.get(rec.uuid);
      if (d !== undefined) throw new ApiError('DOMAIN_EXISTS', [vm, String(d.domid)]);
    } else if (rec.resident_on !== NULL_REF) {
      const host = ctx.svc.db.get('host', rec.resident_on) as Rec<'host'> | undefined;
      const live = host !== undefined && ctx.svc.db.get('host_metrics', host.metrics)?.live === true;
      if (live) throw new ApiError('HOST_IS_LIVE', [rec.resident_on]);
    }
  }
  ctx.svc.db.transact((tx) => {
    tx.update('VM', vm, { current_operations: {} });
    markNoDomain(ctx.svc, tx, vm, 'Halted');
  });
}
