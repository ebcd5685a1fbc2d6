// xe pool-restore-database: the dump (read and checked whole, src/db/dump.ts) replaces this
// host's pool database at once, in-process: no reboot. While the dump is read, each row is checked
// and handed to a worker that writes a new database file beside the old one; the restore's own
// edits follow, and the new file is renamed into place (Db.restoreAll). This host takes the place
// of the dump's master (restore-plan.ts); the other hosts stay as records that re-join; VMs that
// cannot be running are Halted in the same swap; this host's own local storage is kept.
// Then the host starts over as the master of the restored pool at a new epoch, so any host of
// the old pool that comes back follows it instead of competing with it.
import { existsSync } from 'node:fs';
import { DumpError, parseDump, type ParsedDump } from '../../db/dump.js';
import type { Replacement, StoredRow } from '../../db/sqlite-store.js';
import { ApiError } from '../../model/errors.js';
import type { Rec } from '../../model/index.js';
import { SCHEMA_VERSION } from '../../model/schema.js';
import { NULL_DATE, NULL_REF } from '../../model/types.js';
import type { Services } from '../context.js';
import {
  describePlan,
  planRestore,
  RestorePlanError,
  type RestorePlan,
  type RestoringHost,
} from './restore-plan.js';

type Body = Record<string, unknown>;

/** This host as the restore sees it: identity, and the domains its hypervisor runs now. */
export async function restoringHost(svc: Services): Promise<RestoringHost> {
  const me = svc.db.get('host', svc.hostRef) as Rec<'host'> | undefined;
  return {
    uuid: me?.uuid ?? '',
    address: me?.address ?? '',
    hostname: me?.hostname ?? '',
    domains: new Set((await svc.hypervisor.vm.list()).map((d) => d.uuid)),
    // Directory SRs (the types this host opens): reachable when the directory exists.
    canAttach: (type, dc) => {
      const dir = type === 'file' ? dc.location : dc.path;
      return svc.storageTypes.includes(type) && dir !== undefined && existsSync(dir);
    },
  };
}

/** A dump read whole: its checksum verified, and every row checked against the model. */
export interface CheckedDump extends ParsedDump {
  readonly checked: true;
}

/**
 * Reads a dump (a request body or a file) and checks it completely; refuses it with xapi's errors.
 * Rows in this host's schema are checked as they are read; rows of an older schema once migrated.
 * `ahead`, for a real restore, gets the rows as they are read, to write them meanwhile.
 */
export async function readDump(
  svc: Services,
  chunks: AsyncIterable<Buffer | string>,
  ahead?: Replacement,
): Promise<CheckedDump> {
  const checker = svc.db.rowChecker();
  let checkedEarly = false;
  let dump: ParsedDump;
  try {
    dump = await parseDump(chunks, SCHEMA_VERSION, (rows, header, bytes) => {
      checkedEarly = header.schema === SCHEMA_VERSION;
      if (checkedEarly) checker.add(rows);
      ahead?.addLines(rows, bytes);
    });
  } catch (e) {
    if (!(e instanceof DumpError)) throw e;
    if (e.code === 'NEWER_SCHEMA') throw new ApiError('RESTORE_INCOMPATIBLE_VERSION', []);
    throw new ApiError('RESTORE_INVALID_BACKUP', [e.message]);
  }
  if (!checkedEarly) checker.add(dump.rows);
  const bad = checker.problem();
  if (bad !== undefined) throw new ApiError('RESTORE_INVALID_BACKUP', [bad]);
  return { ...dump, checked: true };
}

function plan(dump: CheckedDump, here: RestoringHost): RestorePlan {
  try {
    return planRestore(dump.header, dump.rows, here);
  } catch (e) {
    if (e instanceof RestorePlanError) throw new ApiError('RESTORE_INVALID_BACKUP', [e.message]);
    throw e;
  }
}

/** The dry run: what the restore would do, as xe prints it. Changes nothing. */
export function dryRun(dump: CheckedDump, here: RestoringHost): string[] {
  return ['Dry-run backup restore successful', ...describePlan(plan(dump, here), here)];
}

/**
 * The rows the database will hold: the dump's, with this host's identity on the master's record,
 * the reset VMs Halted, leases cleared (hosts report them again), and this host's current local
 * SRs carried over so it keeps its own storage.
 */
export function restoredRows(
  svc: Services,
  dump: ParsedDump,
  p: RestorePlan,
  here: RestoringHost,
): StoredRow[] {
  // The parsed rows belong to this restore alone: they are changed in place, and only the rows
  // that changed are serialised again (the others keep the dump's text). The few rows the plan
  // names are found in two passes over the rows, not through an index of all of them.
  const changed: StoredRow[] = [];
  const edit = (r: StoredRow, patch: Body): void => {
    Object.assign(r.body, patch);
    changed.push(r);
  };
  const find = (refs: Set<string>): Map<string, StoredRow> => {
    const out = new Map<string, StoredRow>();
    for (const r of dump.rows) if (refs.has(r.ref)) out.set(r.ref, r);
    return out;
  };
  // The control domain of the master's record is this host's.
  const myDom0 = [...svc.db.all('VM').values()].find(
    (r) => (r.rec as Rec<'VM'>).is_control_domain && (r.rec as Rec<'VM'>).resident_on === svc.hostRef,
  );
  const hosts = [p.master, ...p.rejoin];
  const named = find(new Set([...hosts, ...p.reset].map((x) => x.ref)));
  const devices = new Set<string>();
  for (const vm of p.reset)
    for (const dev of ['VBDs', 'VIFs'])
      for (const ref of (named.get(vm.ref)?.body[dev] as string[] | undefined) ?? []) devices.add(ref);
  for (const h of hosts) devices.add(String(named.get(h.ref)?.body.metrics));
  const second = find(devices);

  const master = named.get(p.master.ref);
  if (master !== undefined)
    edit(master, {
      uuid: here.uuid,
      address: here.address,
      hostname: here.hostname,
      server_certificate: svc.certificate,
      enabled: true,
    });
  for (const h of hosts) {
    const metrics = second.get(String(named.get(h.ref)?.body.metrics));
    if (metrics !== undefined) edit(metrics, { live: h === p.master });
  }
  for (const vm of p.reset) {
    const r = named.get(vm.ref);
    if (r === undefined) continue;
    edit(r, {
      power_state: 'Halted',
      resident_on: NULL_REF,
      scheduled_to_be_resident_on: NULL_REF,
      domid: -1,
      current_operations: {},
    });
    for (const dev of [
      ...((r.body.VBDs as string[] | undefined) ?? []),
      ...((r.body.VIFs as string[] | undefined) ?? []),
    ]) {
      const d = second.get(dev);
      if (d !== undefined) edit(d, { currently_attached: false, current_operations: {} });
    }
  }
  for (const r of dump.rows) {
    if (r.cls === 'VM' && r.body.is_control_domain === true && r.body.resident_on === p.master.ref && myDom0)
      edit(r, { uuid: (myDom0.rec as Rec<'VM'>).uuid });
    // Leases are reported again by the hosts that hold them.
    if (r.cls === 'VDI' && r.body.lease_holder !== undefined && r.body.lease_holder !== NULL_REF)
      edit(r, { lease_holder: NULL_REF, lease_expires: NULL_DATE });
  }
  for (const r of changed) r.text = JSON.stringify(r.body);
  const carried = carriedOver(svc, dump, p.master.ref);
  // The dump's rows were checked when read; the ones changed or added here are checked again.
  const bad = svc.db.checkRows([...new Set(changed)]) ?? svc.db.checkRows(carried);
  if (bad !== undefined) throw new ApiError('INTERNAL_ERROR', [`the restore made an invalid record: ${bad}`]);
  if (carried.length === 0) return dump.rows;
  const replaced = new Set(carried.map((r) => r.ref));
  return [...dump.rows.filter((r) => !replaced.has(r.ref)), ...carried];
}

/** This host's local (non-shared) SRs the dump does not know, with their PBDs and VDIs. */
function carriedOver(svc: Services, dump: ParsedDump, masterRef: string): StoredRow[] {
  const known = new Set(dump.rows.filter((r) => r.cls === 'SR').map((r) => String(r.body.uuid)));
  const out: StoredRow[] = [];
  const copy = (cls: string, ref: string, patch: Body = {}) => {
    const row = svc.db.row(cls, ref);
    if (row === undefined) return;
    const body = { ...JSON.parse(row.json ?? JSON.stringify(row.rec)), ...patch } as Body;
    out.push({ cls, ref, ctime: row.ctime, mtime: row.mtime, body });
  };
  for (const [srRef, row] of svc.db.all('SR')) {
    const sr = row.rec as Rec<'SR'>;
    if (sr.shared || known.has(sr.uuid)) continue;
    const pbds = sr.PBDs.filter(
      (p) => (svc.db.get('PBD', p) as Rec<'PBD'> | undefined)?.host === svc.hostRef,
    );
    if (pbds.length === 0) continue;
    copy('SR', srRef);
    for (const p of pbds) copy('PBD', p, { host: masterRef });
    for (const v of sr.VDIs) copy('VDI', v);
  }
  return out;
}

/**
 * The restore itself. Everything that can refuse does so before the database is touched; the
 * swap is one SQLite transaction; then this host becomes the restored pool's master in-process.
 */
export async function restore(
  svc: Services,
  dump: CheckedDump,
  here: RestoringHost,
  /** The dump's rows, already being written as they were read (Db.beginRestore). */
  ahead?: Replacement,
): Promise<string[]> {
  const p = plan(dump, here);
  if (!svc.cluster.isMaster) throw new ApiError('HOST_IS_SLAVE', [svc.cluster.masterAddress]);
  // Domains the restored database would not know of would be destroyed as strays: refuse instead.
  const kept = new Set(p.kept.map((v) => v.uuid));
  const strays = [...here.domains].filter((d) => !kept.has(d));
  if (strays.length > 0)
    throw new ApiError('OPERATION_NOT_ALLOWED', [
      `this host runs ${strays.length} VM(s) that the backup does not have running here (${strays.join(', ')}): shut them down first`,
    ]);
  const rows = restoredRows(svc, dump, p, here);
  const sessions = [...svc.db.all('session').keys()];
  svc.db.restoreAll(Math.max(svc.db.generation, dump.header.generation) + 1, rows, {}, ahead);
  svc.log.warn(
    { pool: dump.header.pool, generation: dump.header.generation, rows: rows.length },
    'pool database restored from a dump',
  );
  // Sessions are memory-only and survive; they now belong to this host under its restored ref.
  svc.db.transact((tx) => {
    for (const s of sessions)
      if (tx.get('session', s) !== undefined) tx.update('session', s, { this_host: p.master.ref });
  });
  await svc.lifecycle.becomeRestoredMaster(
    p.master.ref,
    p.rejoin.map((h) => h.ref),
    Math.max(dump.header.epoch, svc.cluster.currentEpoch),
  );
  return describePlan(p, here);
}
