// Running one VM operation under its lock (current_operations) and recording power-state changes
// with everything that follows from them (resident_on, domid, devices, metrics, host memory) in
// one transaction each.
import type { Tx } from '../../db/db.js';
import { ApiError } from '../../model/errors.js';
import type { Rec } from '../../model/index.js';
import { NULL_REF } from '../../model/types.js';
import type { Ctx, Services } from '../context.js';
import { now, read } from '../util.js';
import { checkOperation, vmAllowedOperations } from './operations.js';
import { formatDateTime } from '../../base/clock.js';

type VM = Rec<'VM'>;

function recompute(ref: string, vm: VM): Partial<VM> {
  return { allowed_operations: vmAllowedOperations(ref, vm) as VM['allowed_operations'] };
}

/** Checks and takes the operation lock, runs `fn`, and always releases the lock. */
export async function withVmOp<T>(ctx: Ctx, vm: string, op: string, fn: (rec: VM) => Promise<T>): Promise<T> {
  const db = ctx.svc.db;
  let rec: VM | undefined;
  db.transact((tx) => {
    const cur = tx.get('VM', vm) as VM | undefined;
    if (cur === undefined) throw new ApiError('HANDLE_INVALID', ['VM', vm]);
    const err = checkOperation(vm, cur, op);
    if (err !== undefined) throw err;
    const ops = { ...cur.current_operations, [ctx.opRef]: op } as VM['current_operations'];
    tx.update('VM', vm, { current_operations: ops, ...recompute(vm, { ...cur, current_operations: ops }) });
    rec = cur;
  });
  try {
    if (ctx.signal.aborted) throw new ApiError('TASK_CANCELLED', [ctx.task ?? ctx.opRef]);
    return await fn(rec as VM);
  } finally {
    db.transact((tx) => {
      const cur = tx.get('VM', vm) as VM | undefined;
      if (cur === undefined) return; // destroyed by the operation itself
      const ops = { ...cur.current_operations };
      delete ops[ctx.opRef];
      tx.update('VM', vm, { current_operations: ops, ...recompute(vm, { ...cur, current_operations: ops }) });
    });
  }
}

/** Keeps allowed_operations right after a change made outside withVmOp. */
export function refreshAllowed(tx: Tx, ref: string): void {
  const cur = tx.get('VM', ref) as VM | undefined;
  if (cur !== undefined) tx.update('VM', ref, recompute(ref, cur));
}

export interface DomainFacts {
  domid: number;
  vcpus: number;
  memoryBytes: number;
  startedAtMs: number;
}

/** Records that the VM now has a domain on `host` (Running or Paused). */
export function markResident(
  svc: Services,
  tx: Tx,
  ref: string,
  state: 'Running' | 'Paused',
  host: string,
  d: DomainFacts,
): void {
  const vm = tx.get('VM', ref) as VM;
  tx.update('VM', ref, {
    power_state: state,
    resident_on: host,
    scheduled_to_be_resident_on: NULL_REF,
    domid: d.domid,
  });
  setDevicesAttached(tx, vm, true);
  if (tx.get('VM_metrics', vm.metrics) !== undefined) {
    tx.update('VM_metrics', vm.metrics, {
      memory_actual: d.memoryBytes,
      VCPUs_number: d.vcpus,
      start_time: formatDateTime(d.startedAtMs),
      state: [state.toLowerCase()],
      last_updated: formatDateTime(svc.clock.now()),
    });
  }
  refreshAllowed(tx, ref);
  refreshHostMemory(svc, tx, host);
}

/** xapi's force_state_reset: the VM has no domain anywhere (Halted, or Suspended with an image). */
export function markNoDomain(svc: Services, tx: Tx, ref: string, state: 'Halted' | 'Suspended'): void {
  const vm = tx.get('VM', ref) as VM;
  const host = vm.resident_on;
  tx.update('VM', ref, {
    power_state: state,
    resident_on: NULL_REF,
    scheduled_to_be_resident_on: NULL_REF,
    domid: -1,
  });
  setDevicesAttached(tx, vm, false);
  if (tx.get('VM_metrics', vm.metrics) !== undefined) {
    tx.update('VM_metrics', vm.metrics, {
      memory_actual: 0,
      state: [],
      last_updated: formatDateTime(svc.clock.now()),
    });
  }
  refreshAllowed(tx, ref);
  if (host !== NULL_REF && tx.get('host', host) !== undefined) refreshHostMemory(svc, tx, host);
}

function setDevicesAttached(tx: Tx, vm: VM, attached: boolean): void {
  for (const vbd of vm.VBDs) {
    const r = tx.get('VBD', vbd);
    if (r !== undefined) tx.update('VBD', vbd, { currently_attached: attached && r.empty !== true });
  }
  for (const vif of vm.VIFs) {
    if (tx.get('VIF', vif) !== undefined) tx.update('VIF', vif, { currently_attached: attached });
  }
}

/** Memory a VM holds on its host while it has a domain or a reservation. */
export function footprint(vm: Pick<VM, 'memory_static_max'>): number {
  return vm.memory_static_max;
}

/** Free memory of `host` seen from inside a transaction (reservations count as used). */
export function hostFreeMemory(tx: Tx, svc: Services, host: string): { total: number; free: number } {
  const h = tx.get('host', host) as Rec<'host'>;
  const metrics = tx.get('host_metrics', h.metrics) as Rec<'host_metrics'> | undefined;
  const total = metrics?.memory_total ?? 0;
  let used = 0;
  for (const row of svc.db.all('VM').values()) {
    const vm = (tx.get('VM', row.ref) ?? row.rec) as VM;
    const holds =
      (vm.resident_on === host && vm.power_state !== 'Halted') || vm.scheduled_to_be_resident_on === host;
    if (holds) used += footprint(vm);
  }
  return { total, free: Math.max(0, total - used) };
}

export function refreshHostMemory(svc: Services, tx: Tx, host: string): void {
  const h = tx.get('host', host) as Rec<'host'> | undefined;
  if (h === undefined || tx.get('host_metrics', h.metrics) === undefined) return;
  tx.update('host_metrics', h.metrics, {
    memory_free: hostFreeMemory(tx, svc, host).free,
    last_updated: formatDateTime(svc.clock.now()),
  });
}

/** Reserves the VM's memory on `host` or raises HOST_NOT_ENOUGH_FREE_MEMORY [needed, available]. */
export function reserveMemory(ctx: Ctx, vm: string, host: string): void {
  ctx.svc.db.transact((tx) => {
    const rec = tx.get('VM', vm) as VM;
    const { free } = hostFreeMemory(tx, ctx.svc, host);
    const needed = footprint(rec);
    if (needed > free) throw new ApiError('HOST_NOT_ENOUGH_FREE_MEMORY', [String(needed), String(free)]);
    tx.update('VM', vm, { scheduled_to_be_resident_on: host });
  });
}

export function releaseReservation(ctx: Ctx, vm: string): void {
  ctx.svc.db.transact((tx) => {
    if (tx.get('VM', vm) !== undefined) tx.update('VM', vm, { scheduled_to_be_resident_on: NULL_REF });
  });
}

export function readVm(ctx: Ctx, vm: string): VM {
  return read(ctx, 'VM', vm);
}

export { now };
