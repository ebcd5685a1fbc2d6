// Host operations: enable/disable (placement), evacuate, shutdown and reboot of this host's
// daemon, and free-memory queries. A host must be disabled and free of running guests before it
// may shut down or reboot, as in xapi.
import { ApiError } from '../../model/errors.js';
import type { Rec } from '../../model/index.js';
import type { Ctx } from '../context.js';
import { read, rows } from '../util.js';
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

/** With one host per pool there is nowhere to move a running guest to. */
export function evacuateHost(ctx: Ctx, host: string): void {
  read(ctx, 'host', host);
  if (residentGuests(ctx, host).length > 0) throw new ApiError('NO_HOSTS_AVAILABLE', []);
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
