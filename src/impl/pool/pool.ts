// Pool membership and master changes as XenAPI calls: pool.join (with xapi's checks, run on the
// joining host), eject, host.destroy (xe host-forget), host.declare_dead, and the emergency and
// planned master changes, which the cluster coordinator carries out in-process.
import { parseAddress } from '../../cluster/peer.js';
import type { RowChange } from '../../db/db.js';
import { ApiError, errors, type ErrorCode } from '../../model/errors.js';
import type { Rec } from '../../model/index.js';
import { NULL_REF } from '../../model/types.js';
import { XapiCallError, XapiClient } from '../../rpc/client.js';
import type { Ctx } from '../context.js';
import { powerStateReset } from '../vm/lifecycle.js';
import { read } from '../util.js';

/** Software version keys that must match for a join without --force (xapi's homogeneity check). */
const VERSION_KEYS = ['product_brand', 'product_version', 'platform_version', 'build_number', 'xapi'];

function remoteError(e: unknown): ApiError {
  if (e instanceof XapiCallError) {
    const code = e.code in errors ? (e.code as ErrorCode) : 'JOINING_HOST_SERVICE_FAILED';
    return new ApiError(code, code === 'JOINING_HOST_SERVICE_FAILED' ? [] : e.params);
  }
  return new ApiError('JOINING_HOST_CONNECTION_FAILED', []);
}

/** Checks on the joining host itself, before anything is contacted. */
function checkJoiner(ctx: Ctx): void {
  const db = ctx.svc.db;
  if (db.count('host') > 1) throw new ApiError('JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS', []);
  for (const r of db.all('VM').values()) {
    const vm = r.rec as Rec<'VM'>;
    if (vm.is_control_domain) continue;
    if (vm.power_state === 'Running' || vm.power_state === 'Paused')
      throw new ApiError('JOINING_HOST_CANNOT_HAVE_RUNNING_VMS', []);
    if (Object.keys(vm.current_operations).length > 0)
      throw new ApiError('JOINING_HOST_CANNOT_HAVE_VMS_WITH_CURRENT_OPERATIONS', []);
  }
  for (const r of db.all('SR').values())
    if ((r.rec as Rec<'SR'>).shared) throw new ApiError('JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS', []);
}

/**
 * pool.join / pool.join_force, on the joining host: log in to the master, run xapi's pre-join
 * checks, fetch the pool secret and the master's certificate, then hand over to the coordinator,
 * which has the master admit this host's records and replaces the local database with the pool's.
 */
export async function joinPool(
  ctx: Ctx,
  masterAddress: string,
  user: string,
  password: string,
  force: boolean,
): Promise<void> {
  const svc = ctx.svc;
  checkJoiner(ctx);
  const address = masterAddress.trim();
  if (address === '') throw new ApiError('INVALID_VALUE', ['master_address', masterAddress]);
  let ep: { host: string; port: number };
  try {
    ep = parseAddress(address, svc.cluster.port);
  } catch {
    throw new ApiError('INVALID_VALUE', ['master_address', masterAddress]);
  }
  // Like xapi, the first contact does not verify the master's certificate: the pool secret and
  // the certificates the hosts pin afterwards come over this authenticated session.
  const client = new XapiClient(`https://${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${ep.port}`, {
    rejectUnauthorized: false,
    timeoutMs: 10000,
  });
  try {
    await client.login(user, password).catch((e: unknown) => {
      throw remoteError(e);
    });
    const call = (m: string, ...p: unknown[]) =>
      client.callSession(m, ...p).catch((e: unknown) => {
        throw remoteError(e);
      });
    const [poolRef] = (await call('pool.get_all')) as string[];
    const pool = (await call('pool.get_record', poolRef)) as Record<string, unknown>;
    const masterRef = String(pool.master);
    const master = (await call('host.get_record', masterRef)) as Record<string, unknown>;
    const me = read(ctx, 'host', svc.hostRef);
    const myPool = [...svc.db.all('pool').values()][0]?.rec as Rec<'pool'> | undefined;
    if (master.uuid === me.uuid || pool.uuid === myPool?.uuid)
      throw new ApiError('OPERATION_NOT_ALLOWED', ['Host cannot become slave of itself']);
    const hosts = (await call('host.get_all_records')) as Record<string, Record<string, unknown>>;
    if (Object.values(hosts).some((h) => h.uuid === me.uuid))
      throw new ApiError('OPERATION_NOT_ALLOWED', ['Host is already part of a pool']);
    await replaceDeadHostAt(call, hosts, me.address);
    const theirs = `${String(master.API_version_major)}.${String(master.API_version_minor)}`;
    const mine = `${me.API_version_major}.${me.API_version_minor}`;
    if (theirs !== mine) throw new ApiError('POOL_JOINING_HOST_MUST_HAVE_SAME_API_VERSION', [mine, theirs]);
    if (!force) {
      const sv = (master.software_version ?? {}) as Record<string, string>;
      if (VERSION_KEYS.some((k) => sv[k] !== me.software_version[k]))
        throw new ApiError('HOSTS_NOT_HOMOGENEOUS', ['Software version differs']);
      const vendor = ((master.cpu_info ?? {}) as Record<string, string>).vendor;
      if (vendor !== me.cpu_info.vendor) throw new ApiError('HOSTS_NOT_HOMOGENEOUS', ['CPUs differ']);
    }
    const secret = String(await call('pool.initial_auth'));
    const certificate = String(await call('host.get_server_certificate', masterRef));
    const networks = (await call('network.get_all_records')) as Record<string, Record<string, unknown>>;
    const byBridge = new Map(Object.entries(networks).map(([ref, n]) => [String(n.bridge), ref]));
    const rows = joinerRows(ctx, byBridge);
    await client.logout().catch(() => undefined);
    // Reach the master the way the pool knows it, unless the operator named another port.
    const target = address.includes(':') ? address : String(master.address);
    await svc.cluster.join(target, secret, certificate, rows);
  } finally {
    client.close();
  }
}

/**
 * A machine reinstalled after a failure joins at the address of its old, dead record (after a
 * pool restore, or before anyone forgot it): hosts of a pool need distinct addresses, and the two
 * cannot both run, so the old record is forgotten first (host.destroy, which refuses while VMs
 * are resident there). A live host at that address is left for the master to refuse.
 */
async function replaceDeadHostAt(
  call: (m: string, ...p: unknown[]) => Promise<unknown>,
  hosts: Record<string, Record<string, unknown>>,
  address: string,
): Promise<void> {
  for (const [ref, h] of Object.entries(hosts)) {
    if (h.address !== address) continue;
    const live = await call('host_metrics.get_live', h.metrics);
    if (live === true) continue;
    await call('host.destroy', ref);
  }
}

/**
 * This host's records as the pool will hold them: the host with its metrics and CPUs, its
 * PIFs, storage (SRs, PBDs, VDIs), the control domain and every halted or suspended VM and user
 * template with their devices. Networks the pool has already (same bridge) are used instead of
 * this host's. xapi's default templates are the pool's already.
 */
function joinerRows(ctx: Ctx, poolNetworks: Map<string, string>): RowChange[] {
  const db = ctx.svc.db;
  const out: RowChange[] = [];
  const netMap = new Map<string, string>();
  for (const r of db.all('network').values()) {
    const theirs = poolNetworks.get((r.rec as Rec<'network'>).bridge);
    if (theirs !== undefined) netMap.set(r.ref, theirs);
  }
  const mapNet = (ref: string) => netMap.get(ref) ?? ref;
  const add = (cls: string, ref: string, body: Record<string, unknown>) =>
    out.push({ cls, ref, ctime: 0, body });
  const host = ctx.svc.hostRef;
  const hrec = read(ctx, 'host', host);
  add('host', host, { ...hrec, resident_VMs: [], PBDs: [], PIFs: [], host_CPUs: [] });
  if (hrec.metrics !== NULL_REF)
    add('host_metrics', hrec.metrics, { ...(db.get('host_metrics', hrec.metrics) ?? {}) });
  for (const r of db.all('host_cpu').values()) add('host_cpu', r.ref, { ...r.rec });
  for (const r of db.all('network').values())
    if (!netMap.has(r.ref)) add('network', r.ref, { ...r.rec, PIFs: [], VIFs: [] });
  for (const r of db.all('PIF').values()) {
    const pif = r.rec as Rec<'PIF'>;
    add('PIF', r.ref, { ...pif, network: mapNet(pif.network) });
  }
  for (const r of db.all('SR').values()) add('SR', r.ref, { ...r.rec, PBDs: [], VDIs: [] });
  for (const r of db.all('PBD').values()) add('PBD', r.ref, { ...r.rec });
  for (const r of db.all('VDI').values()) add('VDI', r.ref, { ...r.rec, VBDs: [] });
  const vms = new Set<string>();
  for (const r of db.all('VM').values()) {
    const vm = r.rec as Rec<'VM'>;
    if (vm.is_a_template && vm.other_config.default_template === 'true') continue;
    vms.add(r.ref);
    add('VM', r.ref, { ...vm, VBDs: [], VIFs: [], consoles: [] });
    if (vm.metrics !== NULL_REF && db.get('VM_metrics', vm.metrics) !== undefined)
      add('VM_metrics', vm.metrics, { ...(db.get('VM_metrics', vm.metrics) ?? {}) });
    if (vm.guest_metrics !== NULL_REF && db.get('VM_guest_metrics', vm.guest_metrics) !== undefined)
      add('VM_guest_metrics', vm.guest_metrics, { ...(db.get('VM_guest_metrics', vm.guest_metrics) ?? {}) });
  }
  for (const r of db.all('VBD').values())
    if (vms.has((r.rec as Rec<'VBD'>).VM)) add('VBD', r.ref, { ...r.rec });
  for (const r of db.all('VIF').values()) {
    const vif = r.rec as Rec<'VIF'>;
    if (vms.has(vif.VM)) add('VIF', r.ref, { ...vif, network: mapNet(vif.network) });
  }
  for (const r of db.all('console').values())
    if (vms.has((r.rec as Rec<'console'>).VM)) add('console', r.ref, { ...r.rec });
  return out;
}

/** pool.eject, on the master: the host must run no VMs; it comes back as a new standalone host. */
export async function ejectHost(ctx: Ctx, host: string): Promise<void> {
  const db = ctx.svc.db;
  if (host === ctx.svc.hostRef)
    throw new ApiError('OPERATION_NOT_ALLOWED', ['Cannot eject the pool coordinator']);
  for (const r of db.all('VM').values()) {
    const vm = r.rec as Rec<'VM'>;
    if (!vm.is_control_domain && vm.resident_on === host && vm.power_state !== 'Halted')
      throw new ApiError('OPERATION_NOT_ALLOWED', ['VM resident on host']);
  }
  await ctx.svc.cluster.eject(host);
  forgetHostRecords(ctx, host);
}

/** Removes a host and everything only it had: metrics, CPUs, PIFs, PBDs, SRs only it saw. */
function forgetHostRecords(ctx: Ctx, host: string): void {
  const db = ctx.svc.db;
  db.transact((tx) => {
    const h = tx.get('host', host) as Rec<'host'> | undefined;
    if (h === undefined) return;
    const srsOfHost = new Set<string>();
    for (const r of db.all('PBD').values()) {
      const pbd = r.rec as Rec<'PBD'>;
      if (pbd.host !== host) continue;
      srsOfHost.add(pbd.SR);
      tx.delete('PBD', r.ref);
    }
    for (const sr of srsOfHost) {
      const others = [...db.all('PBD').values()].some(
        (r) => (r.rec as Rec<'PBD'>).SR === sr && (r.rec as Rec<'PBD'>).host !== host,
      );
      if (others) continue;
      for (const v of db.all('VDI').values()) {
        if ((v.rec as Rec<'VDI'>).SR !== sr) continue;
        for (const b of db.all('VBD').values())
          if ((b.rec as Rec<'VBD'>).VDI === v.ref) tx.delete('VBD', b.ref);
        tx.delete('VDI', v.ref);
      }
      tx.delete('SR', sr);
    }
    for (const r of db.all('PIF').values()) if ((r.rec as Rec<'PIF'>).host === host) tx.delete('PIF', r.ref);
    for (const r of db.all('host_cpu').values())
      if ((r.rec as Rec<'host_cpu'>).host === host) tx.delete('host_cpu', r.ref);
    for (const r of db.all('VM').values()) {
      const vm = r.rec as Rec<'VM'>;
      if (vm.is_control_domain && vm.resident_on === host) {
        for (const b of db.all('VBD').values())
          if ((b.rec as Rec<'VBD'>).VM === r.ref) tx.delete('VBD', b.ref);
        for (const c of db.all('console').values())
          if ((c.rec as Rec<'console'>).VM === r.ref) tx.delete('console', c.ref);
        tx.delete('VM', r.ref);
        if (vm.metrics !== NULL_REF && tx.get('VM_metrics', vm.metrics) !== undefined)
          tx.delete('VM_metrics', vm.metrics);
      } else if (vm.affinity === host) tx.update('VM', r.ref, { affinity: NULL_REF });
    }
    if (h.metrics !== NULL_REF && tx.get('host_metrics', h.metrics) !== undefined)
      tx.delete('host_metrics', h.metrics);
    const pool = [...db.all('pool').keys()][0];
    tx.delete('host', host);
    if (pool !== undefined && (tx.get('pool', pool) as Rec<'pool'>).master === host)
      tx.update('pool', pool, { master: NULL_REF });
  });
}

/** Refuses while the host is live: its metrics say so, or it answers (xapi is_host_alive). */
async function checkDead(ctx: Ctx, host: string): Promise<void> {
  if (host === ctx.svc.hostRef) throw new ApiError('HOST_IS_LIVE', [host]);
  const h = read(ctx, 'host', host);
  const live = ctx.svc.db.get('host_metrics', h.metrics)?.live === true;
  if (live || (await ctx.svc.cluster.answers(host))) throw new ApiError('HOST_IS_LIVE', [host]);
}

/** host.destroy (xe host-forget): the host must be dead and have no resident VMs. */
export async function destroyHost(ctx: Ctx, host: string): Promise<void> {
  if (host === ctx.svc.hostRef) throw new ApiError('HOST_CANNOT_DESTROY_SELF', [host]);
  await checkDead(ctx, host);
  for (const r of ctx.svc.db.all('VM').values()) {
    const vm = r.rec as Rec<'VM'>;
    if (!vm.is_control_domain && vm.resident_on === host) throw new ApiError('HOST_HAS_RESIDENT_VMS', [host]);
  }
  forgetHostRecords(ctx, host);
}

/** host.declare_dead: every VM it ran is reset to Halted and the host disabled; the record stays. */
export async function declareDead(ctx: Ctx, host: string): Promise<void> {
  await checkDead(ctx, host);
  for (const r of [...ctx.svc.db.all('VM').values()]) {
    const vm = r.rec as Rec<'VM'>;
    if (!vm.is_control_domain && vm.resident_on === host && vm.power_state !== 'Halted')
      await powerStateReset(ctx, r.ref);
  }
  ctx.svc.db.transact((tx) => tx.update('host', host, { enabled: false }));
}
