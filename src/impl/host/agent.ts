// Host agents: the hypervisor and storage of any host of the pool, as the master uses them. The
// master's own drivers are called directly; a member's are called over the pool's peer channel
// (an `agent` request), which runs the same driver call on that member (xapi forwards such calls
// to the host that has the domain or the SR). VDI paths are computed from the host's PBD
// device-config without I/O, so a DomainSpec built here names the files as that host sees them.
import { PeerError } from '../../cluster/peer.js';
import {
  DriverError,
  type DriverErrorCode,
  type HypervisorDriver,
  type HypervisorVmOps,
} from '../../drivers/hypervisor/driver.js';
import {
  StorageError,
  type SrStat,
  type StorageDriver,
  type StorageErrorCode,
} from '../../drivers/storage/driver.js';
import { ApiError, errors, type ErrorCode } from '../../model/errors.js';
import type { Rec } from '../../model/index.js';
import type { Ctx, Services } from '../context.js';
import { markNoDomain } from '../vm/state.js';

export interface HostAgent {
  readonly vm: HypervisorVmOps;
  /** The SR's driver as this host has it attached, or undefined when it has not. */
  storage(sr: string): StorageDriver | undefined;
}

const VM_CALLS = [
  'list',
  'get',
  'create',
  'pause',
  'unpause',
  'shutdown',
  'reboot',
  'suspend',
  'resume',
] as const;
const SR_CALLS = ['stat', 'vdiCreate', 'vdiDestroy', 'vdiClone', 'vdiResize', 'vdiStat', 'vdiList'] as const;
/** Attaching and detaching an SR on a host (PBD.plug/unplug), and wiping one (SR.destroy). */
const STORAGE_CALLS = ['plug', 'unplug', 'wipe'] as const;

/** A driver failure on a member, carried back as the same error here. */
export class AgentFailure extends Error {
  constructor(
    readonly kind: 'driver' | 'storage',
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A call of `host`'s agent, with its failures as the errors they were there (XenAPI, driver, storage). */
export function remote(ctx: Pick<Ctx, 'svc'>, host: string) {
  const rec = ctx.svc.db.get('host', host) as Rec<'host'> | undefined;
  if (rec === undefined) throw new ApiError('HANDLE_INVALID', ['host', host]);
  return async (call: string, args: unknown[]): Promise<unknown> => {
    try {
      return await ctx.svc.cluster.agent(rec.address, call, args);
    } catch (e) {
      if (e instanceof PeerError && e.answered && e.code === 'AGENT_ERROR') {
        const [kind, code, message] = e.params;
        // A XenAPI error raised on the member (a lease refused, say) reaches the caller as it is.
        if (kind === 'api' && code !== undefined && code in errors)
          throw new ApiError(code as ErrorCode, JSON.parse(message ?? '[]') as string[]);
        if (kind === 'driver') throw new DriverError(code as DriverErrorCode, message ?? '');
        throw new StorageError(code as StorageErrorCode, message ?? '');
      }
      if (e instanceof PeerError && !e.answered) throw new ApiError('HOST_OFFLINE', [host]);
      // A XenAPI refusal on the member (e.g. SR_UNKNOWN_DRIVER) reaches the caller as itself.
      if (e instanceof PeerError && e.answered && e.code !== undefined && e.code in errors)
        throw new ApiError(e.code as ErrorCode, e.params);
      throw e;
    }
  };
}

/** The attached PBD of `sr` on `host`, if any. */
function attachedPbd(ctx: Pick<Ctx, 'svc'>, host: string, sr: string): Rec<'PBD'> | undefined {
  const srRec = ctx.svc.db.get('SR', sr) as Rec<'SR'> | undefined;
  for (const p of srRec?.PBDs ?? []) {
    const pbd = ctx.svc.db.get('PBD', p) as Rec<'PBD'> | undefined;
    if (pbd !== undefined && pbd.host === host && pbd.currently_attached) return pbd;
  }
  return undefined;
}

export function agentOf(ctx: Pick<Ctx, 'svc'>, host: string): HostAgent {
  if (host === ctx.svc.hostRef)
    return { vm: ctx.svc.hypervisor.vm, storage: (sr) => ctx.svc.storage.get(sr) };
  const call = remote(ctx, host);
  const vm = Object.fromEntries(VM_CALLS.map((m) => [m, (...args: unknown[]) => call(`vm.${m}`, args)]));
  return {
    vm: vm as unknown as HypervisorVmOps,
    storage: (sr) => {
      const pbd = attachedPbd(ctx, host, sr);
      const srRec = ctx.svc.db.get('SR', sr) as Rec<'SR'> | undefined;
      if (pbd === undefined || srRec === undefined) return undefined;
      const paths = ctx.svc.openStorage(srRec.type, pbd.device_config);
      const ops = Object.fromEntries(
        SR_CALLS.map((m) => [m, (...args: unknown[]) => call(`sr.${m}`, [sr, ...args])]),
      );
      return {
        ...(ops as unknown as StorageDriver),
        type: srRec.type,
        attach: () => Promise.resolve(),
        vdiPath: (uuid: string) => paths.vdiPath(uuid),
      };
    },
  };
}

/** Hosts that can see every one of `srs` (their PBDs attached), this host first. */
export function hostsSeeing(ctx: Ctx, srs: readonly string[]): string[] {
  const hosts = [ctx.svc.hostRef, ...[...ctx.svc.db.all('host').keys()].filter((h) => h !== ctx.svc.hostRef)];
  return hosts.filter((h) =>
    srs.every((sr) =>
      h === ctx.svc.hostRef ? ctx.svc.storage.has(sr) : attachedPbd(ctx, h, sr) !== undefined,
    ),
  );
}

/** The driver of `sr` on some host that has it attached (this one if it can). */
export function storageAnywhere(ctx: Ctx, sr: string): StorageDriver | undefined {
  const local = ctx.svc.storage.get(sr);
  if (local !== undefined) return local;
  const host = hostsSeeing(ctx, [sr])[0];
  return host === undefined ? undefined : agentOf(ctx, host).storage(sr);
}

/** What a host needs to run storage calls: its attached SRs and the factory that opens one. */
export interface AgentStorage {
  readonly storage: Map<string, StorageDriver>;
  openStorage(type: string, deviceConfig: Record<string, string>): StorageDriver;
}

/** Opens and attaches `sr` on this host and keeps its driver; returns the SR's size as seen here. */
async function plugHere(
  host: AgentStorage,
  sr: string,
  type: string,
  deviceConfig: Record<string, string>,
): Promise<SrStat> {
  const drv = host.openStorage(type, deviceConfig);
  await drv.attach();
  const st = await drv.stat();
  host.storage.set(sr, drv);
  return st;
}

/** Removes every VDI on the storage `deviceConfig` names (SR.destroy), attaching it only for that. */
async function wipeHere(
  host: AgentStorage,
  type: string,
  deviceConfig: Record<string, string>,
): Promise<void> {
  const drv = host.openStorage(type, deviceConfig);
  await drv.attach();
  for (const uuid of await drv.vdiList()) await drv.vdiDestroy(uuid);
}

/**
 * The SR's storage calls on `host`, run there: this host's own driver directly, a member's
 * through its agent. A member that does not answer is HOST_OFFLINE.
 */
export function storageOn(ctx: Pick<Ctx, 'svc'>, host: string) {
  if (host === ctx.svc.hostRef) {
    const here: AgentStorage = ctx.svc;
    return {
      plug: (sr: string, type: string, dc: Record<string, string>) => plugHere(here, sr, type, dc),
      unplug: (sr: string) => Promise.resolve(void here.storage.delete(sr)),
      wipe: (type: string, dc: Record<string, string>) => wipeHere(here, type, dc),
    };
  }
  const call = remote(ctx, host);
  return {
    plug: async (sr: string, type: string, dc: Record<string, string>) =>
      (await call('storage.plug', [sr, type, dc])) as SrStat,
    unplug: async (sr: string) => void (await call('storage.unplug', [sr])),
    wipe: async (type: string, dc: Record<string, string>) => void (await call('storage.wipe', [type, dc])),
  };
}

/**
 * When a member (re)connects, the master makes the database and the member's domains agree, as
 * xapi does when a host's toolstack restarts: a VM the database has running there without a
 * domain is Halted; a domain whose VM is not resident there (reset while the host was away, or
 * running elsewhere) is destroyed, so one VM never runs twice.
 */
export async function reconcileMember(svc: Services, host: string): Promise<void> {
  const agent = agentOf({ svc }, host);
  const domains = new Map((await agent.vm.list()).map((d) => [d.uuid, d]));
  const orphans: string[] = [];
  svc.db.transact((tx) => {
    for (const row of svc.db.all('VM').values()) {
      const vm = row.rec as Rec<'VM'>;
      if (vm.is_control_domain) continue;
      const here = vm.resident_on === host && (vm.power_state === 'Running' || vm.power_state === 'Paused');
      const d = domains.get(vm.uuid);
      domains.delete(vm.uuid);
      // An operation in flight (a start, a shutdown) owns the VM's domain until it ends.
      if (Object.keys(vm.current_operations).length > 0) continue;
      if (d !== undefined && !here) orphans.push(vm.uuid);
      if (d === undefined && here) {
        svc.log.warn({ vm: vm.uuid, host }, 'domain vanished while its host was away; marking Halted');
        markNoDomain(svc, tx, row.ref, 'Halted');
      }
    }
  });
  for (const uuid of [...orphans, ...domains.keys()]) {
    svc.log.warn({ vm: uuid, host }, 'destroying a domain whose VM is not resident on its host');
    await agent.vm.shutdown(uuid, { clean: false });
  }
}

/** A member runs a driver call the master asked for (peer request `agent`). */
export async function runAgentCall(
  hypervisor: HypervisorDriver,
  host: AgentStorage,
  call: string,
  args: unknown[],
): Promise<unknown> {
  const [group, name] = call.split('.', 2) as [string, string];
  const storage = host.storage;
  try {
    if (group === 'storage' && (STORAGE_CALLS as readonly string[]).includes(name)) {
      const [a, b, c] = args;
      const dc = (x: unknown) => (x ?? {}) as Record<string, string>;
      if (name === 'plug') return await plugHere(host, String(a), String(b), dc(c));
      if (name === 'wipe') return await wipeHere(host, String(a), dc(b));
      storage.delete(String(a));
      return null;
    }
    if (group === 'vm' && (VM_CALLS as readonly string[]).includes(name)) {
      const ops = hypervisor.vm as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      return await ops[name]?.(...args);
    }
    if (group === 'sr' && (SR_CALLS as readonly string[]).includes(name)) {
      const [sr, ...rest] = args;
      const drv = storage.get(String(sr));
      if (drv === undefined) throw new ApiError('SR_HAS_NO_PBDS', [String(sr)]);
      const ops = drv as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      return await ops[name]?.(...rest);
    }
  } catch (e) {
    if (e instanceof DriverError) throw new AgentFailure('driver', e.code, e.message);
    if (e instanceof StorageError) throw new AgentFailure('storage', e.code, e.message);
    throw e;
  }
  throw new ApiError('MESSAGE_METHOD_UNKNOWN', [call]);
}
