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
}

/** Generations are reserved in blocks so commits touching only in-memory classes need no disk write. */
const GENERATION_BLOCK = 1000;

export class SqliteStore {
  private readonly db: Database.Database;
  private readonly upsert: Database.Statement;
  private readonly remove: Database.Statement;
  private readonly logDeletion: Database.Statement;
  private readonly setMeta: Database.Statement;
  private readonly pruneDeletions: Database.Statement;
  private reserved = 0;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: a commit is acknowledged only after the WAL is fsynced (nothing acknowledged is lost).
    this.db.pragma('synchronous = FULL');
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
    return rows.map((r) => ({ ...r, body: JSON.parse(r.body) as Record<string, unknown> }));
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
    if (w.upserts.length === 0 && w.deletes.length === 0 && !needReserve) return;
    this.db.transaction(() => {
      for (const r of w.upserts) this.upsert.run(r.ref, r.cls, r.ctime, r.mtime, JSON.stringify(r.body));
      for (const d of w.deletes) {
        this.remove.run(d.ref);
        this.logDeletion.run(d.gen, d.cls, d.ref, d.ctime);
      }
      if (w.deletes.length > 0 && w.gen % 1000 === 0) this.pruneDeletions.run(limits.deletionLogMax);
      if (needReserve) this.setMeta.run('generation_reserved', String(w.gen + GENERATION_BLOCK));
    })();
    if (needReserve) this.reserved = w.gen + GENERATION_BLOCK;
  }

  private reserve(from: number): void {
    this.setMeta.run('generation_reserved', String(from + GENERATION_BLOCK));
    this.reserved = from + GENERATION_BLOCK;
  }

  close(): void {
    this.db.close();
  }
}
