// VM creation and removal: VM.create, destroy, clone, copy and provision (templates' "disks"
// recipe), plus the device-slot queries xe vm-install and clients use.
import { ApiError } from '../../model/errors.js';
import { classes, type Rec } from '../../model/index.js';
import { NULL_REF } from '../../model/types.js';
import type { Ctx } from '../context.js';
import { copyVdi, createVdi } from '../storage/vdi.js';
import { identity, now, read } from '../util.js';
import { refreshAllowed, withVmOp } from './state.js';

type VM = Rec<'VM'>;

/** static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max, or MEMORY_CONSTRAINT_VIOLATION. */
export function checkMemory(
  m: Pick<VM, 'memory_static_min' | 'memory_dynamic_min' | 'memory_dynamic_max' | 'memory_static_max'>,
): void {
  const ok =
    m.memory_static_min <= m.memory_dynamic_min &&
    m.memory_dynamic_min <= m.memory_dynamic_max &&
    m.memory_dynamic_max <= m.memory_static_max;
  if (!ok) {
    throw new ApiError('MEMORY_CONSTRAINT_VIOLATION', [
      'Memory limits must satisfy: static_min <= dynamic_min <= dynamic_max <= static_max',
    ]);
  }
}

/** Fields a creator may give: xapi's constructor takes RW and StaticRO fields only. */
function settable(args: Record<string, unknown>): Partial<VM> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    const f = (classes.VM.fields as Record<string, { qualifier: string } | undefined>)[k];
    if (f !== undefined && f.qualifier !== 'DynamicRO') out[k] = v;
  }
  return out;
}

/** Inserts a Halted VM and its VM_metrics in one transaction; returns the VM ref. */
export function insertVm(ctx: Ctx, fields: Partial<VM>): string {
  const { ref, uuid } = identity(ctx);
  const metrics = identity(ctx);
  ctx.svc.db.transact((tx) => {
    tx.create('VM_metrics', metrics.ref, {
      uuid: metrics.uuid,
      install_time: now(ctx),
      last_updated: now(ctx),
    });
    tx.create('VM', ref, {
      ...fields,
      uuid,
      power_state: 'Halted',
      metrics: metrics.ref,
      guest_metrics: NULL_REF,
      resident_on: NULL_REF,
      domid: -1,
      current_operations: {},
    });
    refreshAllowed(tx, ref);
  });
  return ref;
}

/** xapi's validate_vcpus: 1 ≤ VCPUs_at_startup ≤ VCPUs_max. */
function checkVcpus(max: number, atStartup: number): void {
  if (max < 1) throw new ApiError('INVALID_VALUE', ['VCPUs_max', String(max)]);
  if (atStartup < 1 || atStartup > max)
    throw new ApiError('INVALID_VALUE', ['VCPUs_at_startup', String(atStartup)]);
}

export function createVm(ctx: Ctx, args: Record<string, unknown>): string {
  // A record without VCPUs gets one, as the CLI and most clients would give.
  const fields = { VCPUs_max: 1, VCPUs_at_startup: 1, ...settable(args) };
  checkVcpus(fields.VCPUs_max, fields.VCPUs_at_startup);
  const def = classes.VM.fields;
  const memory = {
    memory_static_min: fields.memory_static_min ?? def.memory_static_min.default ?? 0,
    memory_dynamic_min: fields.memory_dynamic_min ?? def.memory_dynamic_min.default ?? 0,
    memory_dynamic_max: fields.memory_dynamic_max ?? def.memory_dynamic_max.default ?? 0,
    memory_static_max: fields.memory_static_max ?? def.memory_static_max.default ?? 0,
  };
  for (const [k, v] of Object.entries(memory)) if (v < 0) throw new ApiError('INVALID_VALUE', [k, String(v)]);
  checkMemory(memory);
  return insertVm(ctx, fields);
}

export function destroyVm(ctx: Ctx, vm: string): Promise<void> {
  return withVmOp(ctx, vm, 'destroy', async (rec) => {
    ctx.svc.db.transact((tx) => {
      for (const vbd of rec.VBDs) if (tx.get('VBD', vbd) !== undefined) tx.delete('VBD', vbd);
      for (const vif of rec.VIFs) if (tx.get('VIF', vif) !== undefined) tx.delete('VIF', vif);
      for (const c of rec.consoles) if (tx.get('console', c) !== undefined) tx.delete('console', c);
      if (tx.get('VM_metrics', rec.metrics) !== undefined) tx.delete('VM_metrics', rec.metrics);
      if (tx.get('VM_guest_metrics', rec.guest_metrics) !== undefined)
        tx.delete('VM_guest_metrics', rec.guest_metrics);
      tx.delete('VM', vm);
    });
  });
}

/** The configuration a clone or copy inherits (everything but identity and runtime state). */
function cloneable(rec: VM, newName: string): Partial<VM> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(classes.VM.fields)) {
    if (f.qualifier !== 'DynamicRO' && k !== 'uuid') out[k] = (rec as Record<string, unknown>)[k];
  }
  return { ...(out as Partial<VM>), name_label: newName, is_a_template: rec.is_a_template };
}

async function duplicate(
  ctx: Ctx,
  vm: string,
  newName: string,
  sr: string | undefined,
  op: 'clone' | 'copy',
) {
  return withVmOp(ctx, vm, op, async (rec) => {
    const newVm = insertVm(ctx, cloneable(rec, newName));
    for (const vbdRef of rec.VBDs) {
      const vbd = read(ctx, 'VBD', vbdRef);
      let vdi = vbd.VDI;
      // CDs keep pointing at the same ISO; disks get their own copy of the data.
      if (!vbd.empty && vdi !== NULL_REF && vbd.type !== 'CD')
        vdi = await copyVdi(ctx, vdi, op === 'clone' ? NULL_REF : (sr ?? NULL_REF));
      insertVbd(ctx, newVm, vbd, vdi);
    }
    for (const vifRef of rec.VIFs) {
      const vif = read(ctx, 'VIF', vifRef);
      const { ref, uuid } = identity(ctx);
      ctx.svc.db.transact((tx) =>
        tx.create('VIF', ref, {
          uuid,
          VM: newVm,
          network: vif.network,
          device: vif.device,
          MAC: '',
          MTU: vif.MTU,
          other_config: { ...vif.other_config },
          qos_algorithm_type: vif.qos_algorithm_type,
          qos_algorithm_params: { ...vif.qos_algorithm_params },
          locking_mode: vif.locking_mode,
        }),
      );
    }
    return newVm;
  });
}

function insertVbd(ctx: Ctx, vm: string, from: Rec<'VBD'>, vdi: string): void {
  const { ref, uuid } = identity(ctx);
  ctx.svc.db.transact((tx) =>
    tx.create('VBD', ref, {
      uuid,
      VM: vm,
      VDI: vdi,
      device: from.device,
      userdevice: from.userdevice,
      bootable: from.bootable,
      mode: from.mode,
      type: from.type,
      unpluggable: from.unpluggable,
      empty: vdi === NULL_REF,
      other_config: { ...from.other_config },
      qos_algorithm_type: from.qos_algorithm_type,
      qos_algorithm_params: { ...from.qos_algorithm_params },
      allowed_operations: ['attach'],
    }),
  );
}

export const cloneVm = (ctx: Ctx, vm: string, newName: string) =>
  duplicate(ctx, vm, newName, undefined, 'clone');
export const copyVm = (ctx: Ctx, vm: string, newName: string, sr: string) =>
  duplicate(ctx, vm, newName, sr, 'copy');

interface DiskRecipe {
  device: string;
  size: number;
  sr: string;
  bootable: boolean;
  type: string;
}

/** Parses other_config:disks, e.g. `<provision><disk device="0" size="8589934592" sr="" bootable="true" type="system"/></provision>`. */
export function parseDisks(xml: string): DiskRecipe[] {
  const out: DiskRecipe[] = [];
  const attrs = (tag: string) =>
    Object.fromEntries([...tag.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  for (const m of xml.matchAll(/<disk\b([^>]*)\/?>/g)) {
    const a = attrs(m[1] ?? '');
    const size = Number(a.size);
    if (!/^\d+$/.test(a.device ?? '') || !Number.isSafeInteger(size))
      throw new ApiError('INVALID_VALUE', ['other_config:disks', xml]);
    out.push({
      device: a.device ?? '0',
      size,
      sr: a.sr ?? '',
      bootable: a.bootable === 'true',
      type: a.type ?? 'system',
    });
  }
  return out;
}

export function provisionVm(ctx: Ctx, vm: string): Promise<void> {
  return withVmOp(ctx, vm, 'provision', async (rec) => {
    if (!rec.is_a_template) throw new ApiError('PROVISION_ONLY_ALLOWED_ON_TEMPLATE', []);
    for (const d of parseDisks(rec.other_config.disks ?? '')) {
      const sr = d.sr === '' ? defaultSr(ctx) : (ctx.svc.db.refByUuid('SR', d.sr) ?? NULL_REF);
      const vdi = await createVdi(ctx, {
        name_label: `${rec.name_label} ${d.device}`,
        SR: sr,
        virtual_size: d.size,
        type: 'system',
      });
      const { ref, uuid } = identity(ctx);
      ctx.svc.db.transact((tx) =>
        tx.create('VBD', ref, {
          uuid,
          VM: vm,
          VDI: vdi,
          userdevice: d.device,
          bootable: d.bootable,
          mode: 'RW',
          type: 'Disk',
          empty: false,
          // "owner" marks disks that vm-uninstall destroys with the VM (xapi's installer sets it too).
          other_config: { owner: '' },
          allowed_operations: ['attach'],
        }),
      );
    }
    ctx.svc.db.transact((tx) => {
      const cur = tx.get('VM', vm) as VM;
      const other = { ...cur.other_config };
      delete other.disks;
      // As in xapi, provisioning turns the template into a VM (xe vm-install relies on it).
      tx.update('VM', vm, { other_config: other, is_a_template: false });
    });
  });
}

function defaultSr(ctx: Ctx): string {
  for (const row of ctx.svc.db.all('pool').values()) {
    const sr = (row.rec as Rec<'pool'>).default_SR;
    if (sr !== NULL_REF) return sr;
  }
  throw new ApiError('INVALID_VALUE', ['default_SR', NULL_REF]);
}

const deviceSlots = Array.from({ length: 16 }, (_, i) => String(i));

export function allowedVbdDevices(ctx: Ctx, vm: string): string[] {
  const used = new Set(read(ctx, 'VM', vm).VBDs.map((v) => read(ctx, 'VBD', v).userdevice));
  return deviceSlots.filter((d) => !used.has(d));
}

export function allowedVifDevices(ctx: Ctx, vm: string): string[] {
  const used = new Set(read(ctx, 'VM', vm).VIFs.map((v) => read(ctx, 'VIF', v).device));
  return deviceSlots.slice(0, 7).filter((d) => !used.has(d));
}

export function setMemoryLimits(
  ctx: Ctx,
  vm: string,
  smin: number,
  smax: number,
  dmin: number,
  dmax: number,
): Promise<void> {
  const m = {
    memory_static_min: smin,
    memory_static_max: smax,
    memory_dynamic_min: dmin,
    memory_dynamic_max: dmax,
  };
  // Validated before the operation lock is taken, so a refused call commits nothing.
  checkMemory(m);
  return withVmOp(ctx, vm, 'changing_memory_limits', async () => {
    ctx.svc.db.transact((tx) => tx.update('VM', vm, m));
  });
}

/** The memory fields together, for the explicit setters that change one or more of them. */
type Memory = Pick<
  VM,
  'memory_static_min' | 'memory_static_max' | 'memory_dynamic_min' | 'memory_dynamic_max'
>;

/** Sets memory fields of a halted VM after checking the constraint on the result. */
export function setMemory(ctx: Ctx, vm: string, change: (m: Memory) => Partial<Memory>): Promise<void> {
  const rec = read(ctx, 'VM', vm);
  const cur: Memory = {
    memory_static_min: rec.memory_static_min,
    memory_static_max: rec.memory_static_max,
    memory_dynamic_min: rec.memory_dynamic_min,
    memory_dynamic_max: rec.memory_dynamic_max,
  };
  const next = { ...cur, ...change(cur) };
  for (const [k, v] of Object.entries(next)) if (v < 0) throw new ApiError('INVALID_VALUE', [k, String(v)]);
  checkMemory(next);
  return withVmOp(ctx, vm, 'changing_memory_limits', async () => {
    ctx.svc.db.transact((tx) => tx.update('VM', vm, next));
  });
}

/** VM.set_VCPUs_max / set_VCPUs_at_startup on a halted VM, keeping 1 ≤ at_startup ≤ max. */
export function setVcpus(
  ctx: Ctx,
  vm: string,
  field: 'VCPUs_max' | 'VCPUs_at_startup',
  value: number,
): Promise<void> {
  const rec = read(ctx, 'VM', vm);
  const next = { VCPUs_max: rec.VCPUs_max, VCPUs_at_startup: rec.VCPUs_at_startup, [field]: value };
  checkVcpus(next.VCPUs_max, next.VCPUs_at_startup);
  return withVmOp(ctx, vm, 'changing_VCPUs', async () => {
    ctx.svc.db.transact((tx) => tx.update('VM', vm, { [field]: value }));
  });
}
