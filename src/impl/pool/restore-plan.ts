// What restoring a pool database dump on this host will do (xe pool-restore-database; the
// dry-run prints it, the restore applies it). Pure: it reads the dump's rows and a description of
// this host, and changes nothing.
//
// As in xapi, the host that restores takes the place of the dump's master: that host record gets
// this host's identity (uuid, address, certificate). Unlike xapi, the other hosts are kept, as
// records that re-join (or are forgotten); VMs that cannot be running are reset to Halted in the
// same step, not by a later resync.
import type { StoredRow } from '../../db/sqlite-store.js';
import type { DumpHeader } from '../../db/dump.js';

export interface RestoringHost {
  uuid: string;
  address: string;
  hostname: string;
  /** uuids of the domains this host's hypervisor runs now (a host restoring its own pool keeps them). */
  domains: ReadonlySet<string>;
  /** Whether this host can reach an SR with this type and device-config (its directory exists). */
  canAttach(type: string, deviceConfig: Record<string, string>): boolean;
}

export interface PlannedHost {
  ref: string;
  uuid: string;
  name: string;
  address: string;
}

export interface PlannedSr {
  ref: string;
  uuid: string;
  name: string;
  type: string;
  shared: boolean;
  /** 'here': its PBD is this host's (after the remapping); 'elsewhere': only other hosts have one. */
  where: 'here' | 'elsewhere' | 'nowhere';
  /** For 'here': the PBD's device-config, to plug after the restore. */
  pbd?: { ref: string; deviceConfig: Record<string, string> };
}

export interface PlannedVm {
  ref: string;
  uuid: string;
  name: string;
  powerState: string;
  residentOn: string;
}

export interface RestorePlan {
  header: DumpHeader;
  /** The dump's master, whose place this host takes. */
  master: PlannedHost;
  /** The dump's other hosts: kept as records, to re-join or be forgotten. */
  rejoin: PlannedHost[];
  srs: PlannedSr[];
  /** Running or paused VMs that will be Halted (their domains are not on this host). */
  reset: PlannedVm[];
  /** Running VMs whose domain this host still runs: they stay as they are. */
  kept: PlannedVm[];
  halted: number;
  suspended: number;
}

export class RestorePlanError extends Error {
  override readonly name = 'RestorePlanError';
}

type Body = Record<string, unknown>;
const str = (b: Body, k: string) => (typeof b[k] === 'string' ? b[k] : '');

export function planRestore(
  header: DumpHeader,
  rows: readonly StoredRow[],
  here: RestoringHost,
): RestorePlan {
  const of = (cls: string) => rows.filter((r) => r.cls === cls);
  const hosts = of('host').map((r): PlannedHost => ({
    ref: r.ref,
    uuid: str(r.body, 'uuid'),
    name: str(r.body, 'name_label'),
    address: str(r.body, 'address'),
  }));
  const master = hosts.find((h) => h.uuid === header.master);
  if (master === undefined)
    throw new RestorePlanError(`the dump names master ${header.master} but holds no such host`);
  if (of('pool').length !== 1)
    throw new RestorePlanError(`the dump holds ${of('pool').length} pool records, not 1`);
  const hostName = new Map(hosts.map((h) => [h.ref, h.name || h.uuid]));
  const pbds = of('PBD');
  const srs = of('SR').map((r): PlannedSr => {
    const mine = pbds.filter((p) => p.body.SR === r.ref);
    const masterPbd = mine.find((p) => p.body.host === master.ref);
    const sr: PlannedSr = {
      ref: r.ref,
      uuid: str(r.body, 'uuid'),
      name: str(r.body, 'name_label'),
      type: str(r.body, 'type'),
      shared: r.body.shared === true,
      where: masterPbd !== undefined ? 'here' : mine.length > 0 ? 'elsewhere' : 'nowhere',
    };
    if (masterPbd !== undefined)
      sr.pbd = {
        ref: masterPbd.ref,
        deviceConfig: (masterPbd.body.device_config ?? {}) as Record<string, string>,
      };
    return sr;
  });
  const reset: PlannedVm[] = [];
  const kept: PlannedVm[] = [];
  let halted = 0;
  let suspended = 0;
  for (const r of of('VM')) {
    const b = r.body;
    if (b.is_control_domain === true || b.is_a_template === true || b.is_a_snapshot === true) continue;
    const vm: PlannedVm = {
      ref: r.ref,
      uuid: str(b, 'uuid'),
      name: str(b, 'name_label'),
      powerState: str(b, 'power_state'),
      residentOn: hostName.get(str(b, 'resident_on')) ?? '',
    };
    if (vm.powerState === 'Running' || vm.powerState === 'Paused') {
      // Only a host restoring its own pool can still run a domain of the dump.
      const runsHere = b.resident_on === master.ref && here.uuid === master.uuid && here.domains.has(vm.uuid);
      (runsHere ? kept : reset).push(vm);
    } else if (vm.powerState === 'Suspended') suspended++;
    else halted++;
  }
  return { header, master, rejoin: hosts.filter((h) => h !== master), srs, reset, kept, halted, suspended };
}

/** The plan as xe prints it (dry-run), one line per string. */
export function describePlan(p: RestorePlan, here: RestoringHost): string[] {
  const h = p.header;
  const out = [
    `Backup of pool ${h.pool} taken ${h.created} on master ${p.master.uuid} (epoch ${h.epoch}, generation ${h.generation}, schema ${h.schema}).`,
    `This host (${here.uuid}, ${here.address}) takes the place of master ${p.master.name || p.master.uuid} (${p.master.uuid}).`,
  ];
  if (p.rejoin.length > 0) {
    out.push('Hosts kept as records, to re-join with xe pool-join (or forget with xe host-forget):');
    for (const x of p.rejoin) out.push(`  ${x.name || x.uuid} (${x.uuid}, ${x.address})`);
  }
  if (p.srs.length > 0) out.push('SRs:');
  for (const sr of p.srs) {
    const reachable = sr.pbd !== undefined && here.canAttach(sr.type, sr.pbd.deviceConfig);
    const what =
      sr.where === 'here'
        ? reachable
          ? 'plugged on this host'
          : `not reachable here (${Object.values(sr.pbd?.deviceConfig ?? {}).join(', ')}): left unplugged`
        : sr.where === 'elsewhere'
          ? 'attached when its hosts re-join'
          : 'no PBD: re-attach with xe pbd-create and pbd-plug';
    out.push(`  ${sr.name || sr.uuid} (${sr.uuid}, ${sr.type}${sr.shared ? ', shared' : ''}): ${what}`);
  }
  if (p.reset.length > 0) {
    out.push('VMs reset to Halted (they cannot be running):');
    for (const vm of p.reset)
      out.push(`  ${vm.name || vm.uuid} (${vm.uuid}): was ${vm.powerState} on ${vm.residentOn || '?'}`);
  }
  if (p.kept.length > 0) {
    out.push('VMs left running (this host runs their domains):');
    for (const vm of p.kept) out.push(`  ${vm.name || vm.uuid} (${vm.uuid})`);
  }
  out.push(`Other VMs unchanged: ${p.halted} halted, ${p.suspended} suspended.`);
  return out;
}
