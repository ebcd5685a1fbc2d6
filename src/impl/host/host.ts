// Host operations: enable/disable (placement), evacuate, shutdown and reboot of this host's
// daemon, and free-memory queries. A host must be disabled and free of running guests before it
// may shut down or reboot, as in xapi.
import { ApiError } from '../../model/errors.js';
import type { Rec } from '../../model/index.js';
import type { Ctx } from '../context.js';
import { read, rows } from '../util.js';
import { hostViews, poolHosts, vmNeeds } from '../vm/lifecycle.js';
import { poolMigrate } from '../vm/migrate.js';
import { operationRefusal } from '../vm/operations.js';
import { planEvacuation, type HostView, type Placement, type Refusal } from '../vm/placement.js';
import { hostFreeMemory } from '../vm/state.js';

/** The key in the host's local state that says whether a restart re-enables the host. */
export const AUTO_ENABLE_KEY = 'host_auto_enable';

export function enableHost(ctx: Ctx, host: string): void {
  read(ctx, 'host', host);
  ctx.svc.localState.put(AUTO_ENABLE_KEY, 'true');
  ctx.svc.db.transact((tx) => tx.update('host', host, { enabled: true }));
}

export function disableHost(ctx: Ctx, host: string, autoEnable: boolean): void {
  read(ctx, 'host', host);
  ctx.svc.localState.put(AUTO_ENABLE_KEY, autoEnable ? 'true' : 'false');
  ctx.svc.db.transact((tx) => tx.update('host', host, { enabled: false }));
}

/** Guests (not the control domain) that hold a domain on `host`. */
function residentGuests(ctx: Ctx, host: string): string[] {
  return [...rows(ctx, 'VM')]
    .filter(([, vm]) => vm.resident_on === host && !vm.is_control_domain && vm.power_state !== 'Halted')
    .map(([ref]) => ref);
}

/**
 * The evacuation plan of `host` (xapi compute_evacuation_plan_no_wlb): for each guest running
 * there, a target among the other enabled hosts, or why it cannot move (see planEvacuation).
 */
function evacuationPlan(ctx: Ctx, host: string): Map<string, Placement> {
  read(ctx, 'host', host);
  const guests = residentGuests(ctx, host);
  const targets = poolHosts(ctx).filter((h) => h !== host && read(ctx, 'host', h).enabled);
  let plan = new Map<string, Placement>();
  ctx.svc.db.transact((tx) => {
    // A host that cannot be reached cannot hand its domains over.
    const [self] = hostViews(ctx, tx, undefined, [host]) as [HostView];
    const dead: Refusal | undefined = self.live ? undefined : ['HOST_NOT_LIVE', []];
    plan = planEvacuation(
      guests.map((vm) => {
        const rec = read(ctx, 'VM', vm);
        const refusal = dead ?? operationRefusal(vm, rec, 'pool_migrate');
        return {
          needs: vmNeeds(ctx, vm, rec),
          targets: hostViews(ctx, tx, vm, targets),
          ...(refusal === undefined ? {} : { opRefusal: refusal }),
        };
      }),
    );
  });
  return plan;
}

/** host.get_vms_which_prevent_evacuation: each VM that cannot move, with [code, params…]. */
export function vmsPreventingEvacuation(ctx: Ctx, host: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [vm, p] of evacuationPlan(ctx, host))
    if ('refusal' in p) out[vm] = [p.refusal[0], ...p.refusal[1]];
  return out;
}

/**
 * host.evacuate: migrates every guest of `host` to another host, each to the target of the plan.
 * If any guest cannot go anywhere, the call fails with that guest's reason before anything moves
 * (as xapi). The host's enabled flag is left as it is: run host-disable first so that no new VM
 * is started there meanwhile.
 */
export async function evacuateHost(ctx: Ctx, host: string): Promise<void> {
  const plan = evacuationPlan(ctx, host);
  for (const p of plan.values()) if ('refusal' in p) throw new ApiError(p.refusal[0], p.refusal[1]);
  for (const [vm, p] of plan) {
    if (!('host' in p)) continue;
    try {
      await poolMigrate(ctx, vm, p.host, { live: 'true' });
    } catch (e) {
      // A VM shut down meanwhile no longer needs to move (xapi ignores VM_BAD_POWER_STATE too).
      if (!(e instanceof ApiError && e.code === 'VM_BAD_POWER_STATE')) throw e;
    }
  }
  const left = residentGuests(ctx, host);
  if (left.length > 0)
    throw new ApiError('INTERNAL_ERROR', [`evacuate: ${left.length} VMs are still resident on ${host}`]);
}

function assertCanPowerOff(ctx: Ctx, host: string): Rec<'host'> {
  const h = read(ctx, 'host', host);
  if (h.enabled) throw new ApiError('HOST_NOT_DISABLED', []);
  const [busy] = residentGuests(ctx, host);
  if (busy !== undefined) throw new ApiError('HOST_IN_USE', [host, 'VM', busy]);
  if (host !== ctx.svc.hostRef) throw new ApiError('HOST_NOT_LIVE', []);
  return h;
}

/** Marks the host not live at once (a clean shutdown), then stops this daemon after replying. */
export function shutdownHost(ctx: Ctx, host: string): void {
  const h = assertCanPowerOff(ctx, host);
  ctx.svc.db.transact((tx) => tx.update('host_metrics', h.metrics, { live: false }));
  ctx.svc.power.shutdown();
}

export function rebootHost(ctx: Ctx, host: string): void {
  assertCanPowerOff(ctx, host);
  ctx.svc.power.reboot();
}

export function computeFreeMemory(ctx: Ctx, host: string): number {
  read(ctx, 'host', host);
  let free = 0;
  ctx.svc.db.transact((tx) => {
    free = hostFreeMemory(tx, ctx.svc, host).free;
  });
  return free;
}
