// From VM records to the hypervisor: the DomainSpec a VM boots with (disks through the storage
// drivers, NICs on their bridges) and the one place driver failures become XenAPI errors.
import { isDriverError, type DomainSpec } from '../../drivers/hypervisor/driver.js';
import { ApiError } from '../../model/errors.js';
import type { Rec } from '../../model/index.js';
import { NULL_REF } from '../../model/types.js';
import type { Ctx } from '../context.js';
import { agentOf } from '../host/agent.js';
import { read } from '../util.js';

const diskDevices = 'abcdefghijklmnop';

/** VBD.userdevice "0" → "xvda", as xapi names a PV disk. */
export function deviceName(userdevice: string): string {
  const n = Number(userdevice);
  return Number.isInteger(n) && n >= 0 && n < diskDevices.length ? `xvd${diskDevices[n]}` : userdevice;
}

/** The domain of `vm` as it boots on `host`: disk paths are that host's. */
export function domainSpec(ctx: Ctx, vmRef: string, vm: Rec<'VM'>, host: string): DomainSpec {
  const disks: DomainSpec['disks'] = [];
  for (const vbdRef of vm.VBDs) {
    const vbd = read(ctx, 'VBD', vbdRef);
    if (vbd.empty || vbd.VDI === NULL_REF) continue;
    const vdi = read(ctx, 'VDI', vbd.VDI);
    const storage = agentOf(ctx, host).storage(vdi.SR);
    if (storage === undefined) throw new ApiError('VM_REQUIRES_SR', [vmRef, vdi.SR]);
    assertVdiFree(ctx, vbdRef, vbd, vdi, vbd.VDI);
    const mode = vbd.mode === 'RO' || vdi.read_only ? 'RO' : 'RW';
    disks.push({
      device: deviceName(vbd.userdevice),
      path: storage.vdiPath(vdi.uuid),
      mode,
      type: vbd.type === 'CD' ? 'CD' : 'Disk',
      // A disk written by one guest at a time is guarded by a lease on its SR (docs/storage.md).
      ...(mode === 'RW' && !vdi.sharable ? { lease: { sr: vdi.SR, vdi: vdi.uuid } } : {}),
    });
  }
  const nics: DomainSpec['nics'] = vm.VIFs.map((vifRef) => {
    const vif = read(ctx, 'VIF', vifRef);
    const net = ctx.svc.db.get('network', vif.network);
    return { device: vif.device, mac: vif.MAC, bridge: typeof net?.bridge === 'string' ? net.bridge : '' };
  });
  return {
    uuid: vm.uuid,
    name: vm.name_label,
    memoryBytes: vm.memory_dynamic_max,
    vcpus: vm.VCPUs_at_startup,
    disks,
    nics,
  };
}

/** A writable, non-sharable VDI may be attached by one running VM only. */
function assertVdiFree(ctx: Ctx, vbdRef: string, vbd: Rec<'VBD'>, vdi: Rec<'VDI'>, vdiRef: string): void {
  if (vbd.mode === 'RO' || vdi.sharable || vdi.read_only) return;
  for (const other of vdi.VBDs) {
    if (other === vbdRef) continue;
    const o = ctx.svc.db.get('VBD', other);
    if (o?.currently_attached === true && o.mode === 'RW')
      throw new ApiError('VDI_IN_USE', [vdiRef, 'start']);
  }
}

/** Runs a driver call, turning driver failures into XenAPI errors. */
export async function driverCall<T>(vmRef: string, vm: Rec<'VM'>, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isDriverError(e, 'DOMAIN_EXISTS')) throw new ApiError('DOMAIN_EXISTS', [vmRef, String(vm.domid)]);
    if (isDriverError(e, 'BAD_STATE')) {
      throw new ApiError('VM_BAD_POWER_STATE', [vmRef, 'running', vm.power_state.toLowerCase()]);
    }
    if (isDriverError(e)) throw new ApiError('INTERNAL_ERROR', [`hypervisor: ${e.message}`]);
    throw e;
  }
}
