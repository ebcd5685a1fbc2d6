// A host's own configuration, backed up and restored (xe host-backup; the guide's "boot the
// installation CD and select Restore from backup" becomes `poolstackd --restore-host-backup FILE`):
// its identity (the host's ref and uuid in the pool), TLS key and certificate, root password
// hash, pool secret and role, and the pool database as the host held it (network and local SR
// records included). Two lines: a JSON document, then `{"sha256":…}` over the first line.
//
// A restored host always comes back as a member: it asks the pool who the master is and catches
// up from it, so a backup can never roll the pool back. A host that was the master is made
// master again with pool-designate-new-master (or an emergency transition if no master is left).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { K } from '../cluster/coordinator-types.js';
import { parseDump } from '../db/dump.js';
import { SqliteStore } from '../db/sqlite-store.js';
import type { Services } from '../impl/context.js';
import { poolDump } from '../impl/pool/backup.js';
import type { Rec } from '../model/index.js';
import { SCHEMA_VERSION } from '../model/schema.js';

export const HOST_BACKUP_FORMAT = 'poolstack-host-backup';
export const HOST_BACKUP_PATH = '/host_backup';
export const HOST_RESTORE_PATH = '/host_restore';
/** Where xe host-restore leaves a checked backup on its host, for --restore-host-backup. */
export const STAGED_BACKUP = 'host-backup.restore';

/** Files of the data directory that make the host's identity (relative paths). */
const FILES = ['tls/server.key', 'tls/server.crt', 'root-password.scrypt'];
/** Local keys of the host's state (local.db's counterpart) that a restore brings back. */
const LOCAL_KEYS = [
  K.role,
  K.master,
  K.secret,
  K.epoch,
  K.appliedEpoch,
  K.starts,
  'local_host_ref',
  'host_auto_enable',
];

interface HostBackup {
  format: typeof HOST_BACKUP_FORMAT;
  version: 1;
  schema: number;
  host: string;
  hostRef: string;
  pool: string;
  role: string;
  /** The address of the pool's master when the backup was taken (this host's own if master). */
  master: string;
  created: string;
  files: Record<string, string>;
  local: Record<string, string>;
  /** The pool database as this host held it, in the pool dump format. */
  dump: string;
}

export class HostBackupError extends Error {
  override readonly name = 'HostBackupError';
}

/** This host's backup, as text (small: keys, certificates and the pool database). */
export function makeHostBackup(
  svc: Services,
  dataDir: string,
  local: (k: string) => string | undefined,
): string {
  const me = svc.db.get('host', svc.hostRef) as Rec<'host'> | undefined;
  const pool = [...svc.db.all('pool').values()][0]?.rec as Rec<'pool'> | undefined;
  const files: Record<string, string> = {};
  for (const f of FILES)
    if (existsSync(join(dataDir, f))) files[f] = readFileSync(join(dataDir, f)).toString('base64');
  const localKeys: Record<string, string> = {};
  for (const k of LOCAL_KEYS) {
    const v = local(k);
    if (v !== undefined) localKeys[k] = v;
  }
  const doc: HostBackup = {
    format: HOST_BACKUP_FORMAT,
    version: 1,
    schema: SCHEMA_VERSION,
    host: me?.uuid ?? '',
    hostRef: svc.hostRef,
    pool: pool?.uuid ?? '',
    role: svc.cluster.isMaster ? 'master' : 'member',
    master: svc.cluster.masterAddress,
    created: new Date(svc.clock.now()).toISOString(),
    files,
    local: localKeys,
    dump: Buffer.concat([...poolDump(svc).chunks]).toString('utf8'),
  };
  const line = JSON.stringify(doc);
  return `${line}\n${JSON.stringify({ sha256: createHash('sha256').update(line).digest('hex') })}\n`;
}

/** Reads and checks a host backup completely (format, checksum, schema). */
export function parseHostBackup(text: string): HostBackup {
  const [line = '', trailer = '', ...rest] = text.split('\n');
  let doc: Partial<HostBackup>;
  try {
    doc = JSON.parse(line) as Partial<HostBackup>;
  } catch {
    if (line.startsWith(`{"format":"${HOST_BACKUP_FORMAT}"`))
      throw new HostBackupError('the host backup is truncated');
    throw new HostBackupError('this is not a Poolstack host backup');
  }
  if (doc.format !== HOST_BACKUP_FORMAT) throw new HostBackupError('this is not a Poolstack host backup');
  if (doc.version !== 1)
    throw new HostBackupError(`host backup version ${String(doc.version)} is not supported`);
  let sum: unknown;
  try {
    sum = (JSON.parse(trailer) as { sha256?: unknown }).sha256;
  } catch {
    throw new HostBackupError('the host backup is truncated (no checksum line)');
  }
  if (sum !== createHash('sha256').update(line).digest('hex') || rest.some((l) => l !== ''))
    throw new HostBackupError('the checksum does not match: the host backup is corrupted');
  if (typeof doc.schema !== 'number' || doc.schema > SCHEMA_VERSION)
    throw new HostBackupError(
      `the backup has schema version ${String(doc.schema)}; this host runs ${SCHEMA_VERSION}`,
    );
  if (typeof doc.dump !== 'string' || typeof doc.hostRef !== 'string' || typeof doc.local !== 'object')
    throw new HostBackupError('the host backup is incomplete');
  return doc as HostBackup;
}

/**
 * `poolstackd --restore-host-backup FILE`: rebuilds the data directory from a host backup before
 * the daemon starts. Whatever was in the directory is moved aside (never deleted). The host comes
 * back as a member with its identity, and catches up from the pool's master.
 */
export async function restoreDataDir(
  file: string,
  dataDir: string,
  now: Date,
): Promise<{ host: string; restored: boolean; movedAside?: string }> {
  const marker = join(dataDir, 'restored-from-host-backup');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    // A backup staged in the data directory went aside with the old directory: done already.
    if (existsSync(marker)) return { host: '', restored: false };
    throw new HostBackupError(`cannot read ${file}: ${String(e)}`);
  }
  const b = parseHostBackup(text);
  const sum = createHash('sha256').update(text).digest('hex');
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === sum)
    return { host: b.host, restored: false };
  let dump;
  try {
    dump = await parseDump(
      (async function* () {
        yield b.dump;
      })(),
      SCHEMA_VERSION,
    );
  } catch (e) {
    throw new HostBackupError(`the pool database in the backup is unusable: ${String(e)}`);
  }
  let movedAside: string | undefined;
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    movedAside = `${dataDir}.before-restore-${now.toISOString().replace(/[:.]/g, '-')}`;
    renameSync(dataDir, movedAside);
  }
  mkdirSync(join(dataDir, 'tls'), { recursive: true, mode: 0o700 });
  for (const [f, b64] of Object.entries(b.files))
    if (FILES.includes(f)) writeFileSync(join(dataDir, f), Buffer.from(b64, 'base64'), { mode: 0o600 });
  const others = dump.rows
    .filter((r) => r.cls === 'host' && r.ref !== b.hostRef)
    .map((r) => String(r.body.address));
  const master = b.role === 'master' ? (others[0] ?? '') : b.master;
  const store = new SqliteStore(join(dataDir, 'state.db'));
  try {
    store.replaceAll(dump.header.generation, dump.rows, {
      ...b.local,
      // Back as a member: it learns who the master is from the pool and catches up from it.
      [K.role]: 'member',
      [K.master]: master,
      local_host_ref: b.hostRef,
      applied_gen: String(dump.header.generation),
    });
  } finally {
    store.close();
  }
  writeFileSync(marker, sum + '\n');
  return movedAside === undefined
    ? { host: b.host, restored: true }
    : { host: b.host, restored: true, movedAside };
}

/**
 * xe host-restore on the host itself: checks that the backup is intact and is this host's, then
 * keeps it in the data directory for `poolstackd --restore-host-backup` (as xapi keeps it on the
 * backup partition for the installer). The running host is not changed.
 */
export function stageHostBackup(text: string, dataDir: string, hostUuid: string): string {
  const b = parseHostBackup(text);
  if (b.host !== hostUuid)
    throw new HostBackupError(`the backup is of host ${b.host}, not of this host (${hostUuid})`);
  const file = join(dataDir, STAGED_BACKUP);
  writeFileSync(`${file}.partial`, text, { mode: 0o600 });
  renameSync(`${file}.partial`, file);
  return (
    `The backup of host ${b.host} taken ${b.created} is stored on the host as ${file}.\n` +
    `To restore it, stop poolstackd on that host and start it again with --restore-host-backup ${file}`
  );
}
