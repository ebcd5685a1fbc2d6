// VM.pool_migrate: moving a running VM to another host of the pool. The sim driver cannot copy a
// guest's memory, so a migration here is a handover: the domain is destroyed on the source and
// created on the target, strictly in that order (the source's shutdown releases the VM's disk
// leases, the target's create takes them), all under the VM's operation lock. A failed create
// on the target starts the VM again on the source, so a failed migration leaves it running
// where it was.
import { ApiError } from '../../model/errors.js';
import type { Rec } from '../../model/index.js';
import type { Ctx } from '../context.js';
import { agentOf } from '../host/agent.js';
import { read } from '../util.js';
import { domainSpec, driverCall } from './domain.js';
import { hostViews, reserveOn, vmNeeds } from './lifecycle.js';
import { checkOperation } from './operations.js';
import { hostRefusal, type HostView } from './placement.js';
import { markNoDomain, markResident, refreshHostMemory, releaseReservation, withVmOp } from './state.js';

type VM = Rec<'VM'>;

/** The checks VM.pool_migrate makes before the lock, so a refused call commits nothing. */
export function precheckMigrate(ctx: Ctx, vm: string, host: string): void {
  const rec = read(ctx, 'VM', vm);
  read(ctx, 'host', host);
  const err = checkOperation(vm, rec, 'pool_migrate');
  if (err !== undefined) throw err;
  if (rec.resident_on === host) return;
  ctx.svc.db.transact((tx) => {
    const [view] = hostViews(ctx, tx, vm, [host]) as [HostView];
    const refusal = hostRefusal(view, vmNeeds(ctx, vm, rec));
    if (refusal !== undefined) throw new ApiError(refusal[0], refusal[1]);
  });
}

/**
 * VM.pool_migrate(vm, host, options). Options (`live`, `force`) are accepted; every migration
 * here is the same handover. Migrating to the host the VM already runs on does nothing.
 */
export async function poolMigrate(
  ctx: Ctx,
  vm: string,
  host: string,
  _options: Record<string, string>,
): Promise<void> {
  precheckMigrate(ctx, vm, host);
  return withVmOp(ctx, vm, 'pool_migrate', async (rec) => {
    const src = rec.resident_on;
    if (src === host) return;
    reserveOn(ctx, vm, host);
    try {
      await handover(ctx, vm, rec, src, host);
    } finally {
      releaseReservation(ctx, vm);
    }
  });
}

async function handover(ctx: Ctx, vm: string, rec: VM, src: string, dst: string): Promise<void> {
  // Built before anything stops: a target that cannot name the VM's disks refuses here.
  const spec = domainSpec(ctx, vm, rec, dst);
  await driverCall(vm, rec, () => agentOf(ctx, src).vm.shutdown(rec.uuid, { clean: false }));
  let d;
  try {
    d = await driverCall(vm, rec, () => agentOf(ctx, dst).vm.create(spec, { paused: false }));
  } catch (e) {
    await restartOnSource(ctx, vm, rec, src);
    throw e;
  }
  try {
    ctx.svc.db.transact((tx) => {
      markResident(ctx.svc, tx, vm, 'Running', dst, d);
      refreshHostMemory(ctx.svc, tx, src);
    });
  } catch (e) {
    // The DB could not record the move: no guest may run that the pool does not know of.
    await agentOf(ctx, dst).vm.shutdown(rec.uuid, { clean: false });
    await restartOnSource(ctx, vm, rec, src);
    throw e;
  }
}

/** After a failed create on the target: the VM runs on its source again, or is recorded Halted. */
async function restartOnSource(ctx: Ctx, vm: string, rec: VM, src: string): Promise<void> {
  try {
    const d = await agentOf(ctx, src).vm.create(domainSpec(ctx, vm, rec, src), { paused: false });
    ctx.svc.db.transact((tx) => markResident(ctx.svc, tx, vm, 'Running', src, d));
  } catch (e) {
    ctx.svc.log.error({ vm: rec.uuid, err: String(e) }, 'migration failed and the VM could not restart');
    ctx.svc.db.transact((tx) => markNoDomain(ctx.svc, tx, vm, 'Halted'));
  }
}
