// xe pool-restore-database: the dump (already read and checked whole, src/db/dump.ts) replaces
// this host's pool database in one transaction, in-process: no reboot. This host takes the place
// of the dump's master (restore-plan.ts); the other hosts stay as records that re-join; VMs that
// cannot be running are Halted in the same transaction; this host's own local storage is kept.
// Then the host starts over as the master of the restored pool at a new epoch, so any host of
// the old pool that comes back follows it instead of competing with it.
import { existsSync } from 'node:fs';
import type { ParsedDump } from '../../db/dump.js';
import type { Replacement, StoredRow } from '../../db/sqlite-store.js';
import { ApiError } from '../../model/errors.js';
import type { Rec } from '../../model/index.js';
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

function plan(svc: Services, dump: ParsedDump, here: RestoringHost): RestorePlan {
  const bad = svc.db.checkRows(dump.rows);
  if (bad !== undefined) throw new ApiError('RESTORE_INVALID_BACKUP', [bad]);
  try {
    return planRestore(dump.header, dump.rows, here);
  } catch (e) {
    if (e instanceof RestorePlanError) throw new ApiError('RESTORE_INVALID_BACKUP', [e.message]);
    throw e;
  }
}

/** The dry run: what the restore would do, as xe prints it. Changes nothing. */
export function dryRun(svc: Services, dump: ParsedDump, here: RestoringHost): string[] {
  return ['Dry-run backup restore successful', ...describePlan(plan(svc, dump, here), here)];
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
  // that changed are serialised again (the others keep the dump's text).
  const rows = new Map(dump.rows.map((r) => [r.ref, r]));
  const changed = new Set<string>();
  const edit = (ref: unknown, patch: Body): void => {
    const r = typeof ref === 'string' ? rows.get(ref) : undefined;
    if (r === undefined) return;
    Object.assign(r.body, patch);
    changed.add(r.ref);
  };
  const body = (ref: unknown): Body | undefined =>
    typeof ref === 'string' ? rows.get(ref)?.body : undefined;
  edit(p.master.ref, {
    uuid: here.uuid,
    address: here.address,
    hostname: here.hostname,
    server_certificate: svc.certificate,
    enabled: true,
  });
  for (const h of [p.master, ...p.rejoin]) edit(body(h.ref)?.metrics, { live: h === p.master });
  // The control domain of the master's record is this host's.
  const myDom0 = [...svc.db.all('VM').values()].find(
    (r) => (r.rec as Rec<'VM'>).is_control_domain && (r.rec as Rec<'VM'>).resident_on === svc.hostRef,
  );
  for (const r of rows.values())
    if (r.cls === 'VM' && r.body.is_control_domain === true && r.body.resident_on === p.master.ref && myDom0)
      edit(r.ref, { uuid: (myDom0.rec as Rec<'VM'>).uuid });
  for (const vm of p.reset) {
    const b = body(vm.ref) as Body;
    edit(vm.ref, {
      power_state: 'Halted',
      resident_on: NULL_REF,
      scheduled_to_be_resident_on: NULL_REF,
      domid: -1,
      current_operations: {},
    });
    for (const dev of [
      ...((b.VBDs as string[] | undefined) ?? []),
      ...((b.VIFs as string[] | undefined) ?? []),
    ])
      edit(dev, { currently_attached: false, current_operations: {} });
  }
  for (const r of rows.values())
    if (r.cls === 'VDI' && r.body.lease_holder !== undefined && r.body.lease_holder !== NULL_REF)
      edit(r.ref, { lease_holder: NULL_REF, lease_expires: NULL_DATE });
  for (const r of carriedOver(svc, dump, p.master.ref)) {
    rows.set(r.ref, r);
    changed.add(r.ref);
  }
  const edited = [...changed].map((ref) => rows.get(ref) as StoredRow);
  for (const r of edited) r.text = JSON.stringify(r.body);
  // The dump's rows were checked when read; the ones changed here are checked again.
  const bad = svc.db.checkRows(edited);
  if (bad !== undefined) throw new ApiError('INTERNAL_ERROR', [`the restore made an invalid record: ${bad}`]);
  return [...rows.values()];
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
  dump: ParsedDump,
  here: RestoringHost,
  /** The dump's rows, already being written as they were read (Db.beginRestore). */
  ahead?: Replacement,
): Promise<string[]> {
  const p = plan(svc, dump, here);
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
