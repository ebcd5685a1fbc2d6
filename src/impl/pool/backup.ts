// The pool database as a dump (src/db/dump.ts), for xe pool-dump-database and for the master's
// scheduled metadata backups: every N minutes (pool other-config:metadata-backup-interval-minutes)
// a dump is written to a directory (other-config:metadata-backup-dir), the last K are kept
// (other-config:metadata-backup-keep, default 10), and a failure is raised as a pool message.
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeDump } from '../../db/dump.js';
import type { Rec } from '../../model/index.js';
import { SCHEMA_VERSION } from '../../model/schema.js';
import type { Ctx, Services } from '../context.js';
import { createMessage } from '../misc.js';

/** A consistent cut of the pool database (committed rows are immutable) as dump text chunks. */
export function poolDump(svc: Services): { chunks: Iterable<Buffer>; rows: number; generation: number } {
  const { gen, rows } = svc.db.dumpRows();
  const pool = [...svc.db.all('pool').values()][0]?.rec as Rec<'pool'> | undefined;
  const master = svc.db.get('host', svc.hostRef) as Rec<'host'> | undefined;
  const chunks = encodeDump(
    {
      schema: SCHEMA_VERSION,
      pool: pool?.uuid ?? '',
      master: master?.uuid ?? '',
      epoch: svc.cluster.currentEpoch,
      generation: gen,
      created: new Date(svc.clock.now()).toISOString(),
    },
    rows,
  );
  return { chunks, rows: rows.length, generation: gen };
}

export interface BackupSchedule {
  dir: string;
  intervalMs: number;
  keep: number;
}

/** The schedule the pool's other-config asks for, or undefined when backups are off or misconfigured. */
export function backupSchedule(pool: Rec<'pool'> | undefined): BackupSchedule | undefined | string {
  const oc = pool?.other_config ?? {};
  const dir = oc['metadata-backup-dir'];
  const minutes = oc['metadata-backup-interval-minutes'];
  if (dir === undefined || dir === '' || minutes === undefined) return undefined;
  const n = Number(minutes);
  const keep = Number(oc['metadata-backup-keep'] ?? '10');
  if (!(n > 0) || !Number.isFinite(n))
    return `metadata-backup-interval-minutes=${minutes} is not a positive number`;
  if (!Number.isSafeInteger(keep) || keep < 1)
    return `metadata-backup-keep=${String(oc['metadata-backup-keep'])} is not a positive whole number`;
  if (!dir.startsWith('/')) return `metadata-backup-dir=${dir} is not an absolute path`;
  return { dir, intervalMs: n * 60_000, keep };
}

const NAME = /^pool-database-\d{8}T\d{6}Z-\d+\.dump$/;

/** Writes one dump into `dir` (under a temporary name, then renamed) and prunes to the last `keep`. */
export async function writeBackup(svc: Services, s: BackupSchedule): Promise<string> {
  await mkdir(s.dir, { recursive: true });
  const dump = poolDump(svc);
  const stamp = new Date(svc.clock.now())
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const file = join(s.dir, `pool-database-${stamp}-${dump.generation}.dump`);
  const partial = `${file}.partial`;
  try {
    await writeFile(partial, dump.chunks, { mode: 0o600 });
    await rename(partial, file);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
  const dumps = (await readdir(s.dir)).filter((n) => NAME.test(n)).sort();
  for (const old of dumps.slice(0, Math.max(0, dumps.length - s.keep)))
    await rm(join(s.dir, old), { force: true });
  return file;
}

/** The master's backup timer: checks the schedule every few seconds, writes when one is due. */
export class ScheduledBackups {
  private timer: ReturnType<typeof setInterval> | undefined;
  private last = 0;
  private running = false;
  private lastProblem = '';

  constructor(
    private readonly svc: () => Services,
    private readonly checkEveryMs = 1000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.checkEveryMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    const svc = this.svc();
    if (this.running || !svc.cluster.isMaster) return;
    const pool = [...svc.db.all('pool').values()][0]?.rec as Rec<'pool'> | undefined;
    const s = backupSchedule(pool);
    if (s === undefined) return;
    if (typeof s === 'string') return this.problem(svc, pool, `Scheduled metadata backups are off: ${s}.`);
    const now = svc.clock.monotonic();
    if (this.last !== 0 && now - this.last < s.intervalMs) return;
    this.running = true;
    this.last = now;
    try {
      const file = await writeBackup(svc, s);
      this.lastProblem = '';
      svc.log.info({ file }, 'scheduled metadata backup written');
    } catch (e) {
      this.problem(svc, pool, `The scheduled metadata backup to ${s.dir} failed: ${String(e)}.`);
    } finally {
      this.running = false;
    }
  }

  /** Raises METADATA_BACKUP_FAILED on the pool, once per distinct problem. */
  private problem(svc: Services, pool: Rec<'pool'> | undefined, text: string): void {
    if (text === this.lastProblem) return;
    this.lastProblem = text;
    svc.log.warn({ problem: text }, 'scheduled metadata backup');
    createMessage({ svc, log: svc.log } as Ctx, 'METADATA_BACKUP_FAILED', 2, 'Pool', pool?.uuid ?? '', text);
  }
}
