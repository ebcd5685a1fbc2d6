// The durable half of the DB: one SQLite file (WAL, synchronous=FULL) holding persistent objects as
// JSON bodies, a bounded log of deletions, and the generation counters. Everything above this file
// works on the in-memory tables; this file only loads them once and appends each commit.
import Database from 'better-sqlite3';
import { limits } from '../base/limits.js';

export interface StoredRow {
  cls: string;
  ref: string;
  ctime: number;
  mtime: number;
  body: Record<string, unknown>;
  /** `body` as JSON, when the caller has it already (it is stored as is). */
  text?: string | undefined;
}

export interface Deletion {
  gen: number;
  cls: string;
  ref: string;
  ctime: number;
}

export interface CommitWrite {
  gen: number;
  upserts: StoredRow[];
  deletes: Deletion[];
  /** Host-local keys written in the same transaction (a replica's applied position). */
  meta?: Record<string, string> | undefined;
}

/** Generations are reserved in blocks so commits touching only in-memory classes need no disk write. */
const GENERATION_BLOCK = 1000;

/**
 * A WAL checkpoint is asked for after this many commits or this many bytes of row bodies,
 * whichever comes first: about SQLite's own default of 1000 WAL pages.
 */
const CHECKPOINT_AFTER_COMMITS = 1000;
const CHECKPOINT_AFTER_BYTES = 4 * 1024 * 1024;
/** The WAL is reused in place after a checkpoint; one that grew beyond this is truncated back to it. */
const JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

export class SqliteStore {
  private readonly db: Database.Database;
  private readonly upsert: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly logDeletion: Database.Statement;
  private readonly setMeta: Database.Statement;
  private readonly pruneDeletions: Database.Statement;
  private reserved = 0;
  private checkpointPending = false;
  private closed = false;
  private commitsSinceCheckpoint = 0;
  private bytesSinceCheckpoint = 0;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: a commit is acknowledged only after the WAL is fsynced (nothing acknowledged is lost).
    this.db.pragma('synchronous = FULL');
    // No checkpoint inside a COMMIT: see requestCheckpoint.
    this.db.pragma('wal_autocheckpoint = 0');
    this.db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS objects (
        ref TEXT PRIMARY KEY, cls TEXT NOT NULL, ctime INTEGER NOT NULL, mtime INTEGER NOT NULL, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS deletions (
        gen INTEGER NOT NULL, cls TEXT NOT NULL, ref TEXT NOT NULL, ctime INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS deletions_gen ON deletions(gen);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    this.upsert = this.db.prepare(
      'INSERT INTO objects (ref, cls, ctime, mtime, body) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT(ref) DO UPDATE SET mtime = excluded.mtime, body = excluded.body',
    );
    this.remove = this.db.prepare('DELETE FROM objects WHERE ref = ?');
    this.logDeletion = this.db.prepare('INSERT INTO deletions (gen, cls, ref, ctime) VALUES (?, ?, ?, ?)');
    this.setMeta = this.db.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    );
    this.pruneDeletions = this.db.prepare(
      'DELETE FROM deletions WHERE gen < (SELECT gen FROM deletions ORDER BY gen DESC LIMIT 1 OFFSET ?)',
    );
  }

  /** The generation to continue from: above every generation handed out before a crash. */
  loadGeneration(): number {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'generation_reserved'").get() as
      { value: string } | undefined;
    const maxMtime =
      (this.db.prepare('SELECT MAX(mtime) AS m FROM objects').get() as { m: number | null }).m ?? 0;
    const start = Math.max(row === undefined ? 0 : Number(row.value), maxMtime);
    this.reserve(start);
    return start;
  }

  loadRows(): StoredRow[] {
    const rows = this.db.prepare('SELECT ref, cls, ctime, mtime, body FROM objects').all() as {
      ref: string;
      cls: string;
      ctime: number;
      mtime: number;
      body: string;
    }[];
    return rows.map((r) => ({ ...r, body: JSON.parse(r.body) as Record<string, unknown>, text: r.body }));
  }

  deletionsSince(gen: number): Deletion[] {
    return this.db
      .prepare('SELECT gen, cls, ref, ctime FROM deletions WHERE gen > ? ORDER BY gen')
      .all(gen) as Deletion[];
  }

  getMeta(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as
      { value: string } | undefined;
    return row?.value;
  }

  putMeta(key: string, value: string): void {
    this.setMeta.run(key, value);
  }

  /** Makes one commit durable, atomically. Throws (and writes nothing) on failure. */
  commit(w: CommitWrite): void {
    const needReserve = w.gen > this.reserved;
    const meta = Object.entries(w.meta ?? {});
    if (w.upserts.length === 0 && w.deletes.length === 0 && !needReserve && meta.length === 0) return;
    let bytes = 0;
    this.db.transaction(() => {
      for (const r of w.upserts) {
        const body = r.text ?? JSON.stringify(r.body);
        bytes += body.length;
        this.upsert.run(r.ref, r.cls, r.ctime, r.mtime, body);
      }
      for (const d of w.deletes) {
        this.remove.run(d.ref);
        this.logDeletion.run(d.gen, d.cls, d.ref, d.ctime);
      }
      if (w.deletes.length > 0 && w.gen % 1000 === 0) this.pruneDeletions.run(limits.deletionLogMax);
      if (needReserve) this.setMeta.run('generation_reserved', String(w.gen + GENERATION_BLOCK));
      for (const [k, v] of meta) this.setMeta.run(k, v);
    })();
    if (needReserve) this.reserved = w.gen + GENERATION_BLOCK;
    this.commitsSinceCheckpoint++;
    this.bytesSinceCheckpoint += bytes;
    if (
      this.commitsSinceCheckpoint >= CHECKPOINT_AFTER_COMMITS ||
      this.bytesSinceCheckpoint >= CHECKPOINT_AFTER_BYTES
    )
      this.requestCheckpoint();
  }

  /**
   * Copies the WAL into the database file, but not inside the commit that crosses the threshold
   * (where SQLite's automatic checkpoint runs, delaying that write's acknowledgement by the
   * checkpoint's writes and its fsync of the database file): it runs on the next turn of the event
   * loop, after the reply has been handed to the socket. PASSIVE: it never waits for anyone.
   * The same connection does it, so the WAL restarts from its beginning afterwards and is
   * overwritten in place rather than grown (a checkpoint from another connection, e.g. a worker
   * thread, was tried: under steady writes it never caught up, so the WAL grew without bound and
   * every commit paid for extending the file).
   */
  private requestCheckpoint(): void {
    if (this.checkpointPending) return;
    this.checkpointPending = true;
    setImmediate(() => {
      this.checkpointPending = false;
      if (this.closed) return;
      this.commitsSinceCheckpoint = 0;
      this.bytesSinceCheckpoint = 0;
      try {
        this.db.pragma('wal_checkpoint(PASSIVE)');
      } catch {
        // As SQLite's own automatic checkpoint: a failed checkpoint loses nothing (the WAL keeps
        // every commit) and the next one retries.
      }
    });
  }

  /**
   * Replaces every object with `rows` (a replica installing a snapshot of the master's database),
   * atomically with `meta`. The deletion log is emptied: event tokens from before are answered
   * from a full scan.
   */
  replaceAll(gen: number, rows: readonly StoredRow[], meta: Record<string, string>): void {
    this.db.transaction(() => {
      this.db.exec('DELETE FROM objects; DELETE FROM deletions;');
      // In key order, each insert appends to the primary-key index instead of splitting pages
      // all over it (random refs): a large snapshot or restore writes several times faster.
      const ordered = [...rows].sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
      for (const r of ordered)
        this.upsert.run(r.ref, r.cls, r.ctime, r.mtime, r.text ?? JSON.stringify(r.body));
      this.setMeta.run('generation_reserved', String(gen + GENERATION_BLOCK));
      for (const [k, v] of Object.entries(meta)) this.setMeta.run(k, v);
    })();
    this.reserved = gen + GENERATION_BLOCK;
    this.requestCheckpoint();
  }

  private reserve(from: number): void {
    this.setMeta.run('generation_reserved', String(from + GENERATION_BLOCK));
    this.reserved = from + GENERATION_BLOCK;
  }

  close(): void {
    this.closed = true;
    this.db.close();
  }
}
