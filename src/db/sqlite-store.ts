// The durable half of the DB: one SQLite file (WAL, synchronous=FULL) holding persistent objects as
// JSON bodies, a bounded log of deletions, and the generation counters. Everything above this file
// works on the in-memory tables; this file only loads them once and appends each commit.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { assert } from '../base/assert.js';
import { limits } from '../base/limits.js';
import { FileWrite } from './file-writer.js';
import { INSERT_OBJECT_SQL, SCHEMA_SQL } from './sql-schema.js';

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

/** A whole new state being written aside (SqliteStore.beginReplace). */
export interface Replacement {
  /** Rows sent ahead, as they arrive (a dump being read): written while the caller goes on. */
  add(rows: readonly StoredRow[]): void;
  /** The same, with the bytes of their lines in the dump (cheaper to hand to the writer). */
  addLines(rows: readonly StoredRow[], bytes: Buffer): void;
  /**
   * The state is to be exactly `rows` (rows sent ahead that differ are corrected) and `meta`
   * (other meta keys are kept) at generation `gen`. The file is finished on the worker while
   * `meanwhile` runs here; then this blocks until it is durable and puts it in place of the old
   * one. Throws, with the old state intact, if it cannot (or if `meanwhile` throws).
   */
  commit(gen: number, rows: readonly StoredRow[], meta: Record<string, string>, meanwhile?: () => void): void;
  /** Gives up: the old state stays. */
  abandon(): void;
}

export class SqliteStore {
  private db!: Database.Database;
  private upsert!: Database.Statement;
  private remove!: Database.Statement;
  private logDeletion!: Database.Statement;
  private setMeta!: Database.Statement;
  private pruneDeletions!: Database.Statement;
  private reserved = 0;
  private checkpointPending = false;
  private closed = false;
  private commitsSinceCheckpoint = 0;
  private bytesSinceCheckpoint = 0;

  /** The replacement being written, if any: one at a time. */
  private replacing: Replacement | undefined;
  private replacements = 0;

  constructor(private readonly file: string) {
    // Left by a replacement that did not finish: the state in `file` is the one that counts.
    for (const name of readdirSync(dirname(file)))
      if (name.startsWith(`${basename(file)}.new-`)) rmSync(join(dirname(file), name), { force: true });
    this.open();
  }

  private open(): void {
    this.db = new Database(this.file);
    this.db.pragma('journal_mode = WAL');
    // FULL: a commit is acknowledged only after the WAL is fsynced (nothing acknowledged is lost).
    this.db.pragma('synchronous = FULL');
    // No checkpoint inside a COMMIT: see requestCheckpoint.
    this.db.pragma('wal_autocheckpoint = 0');
    this.db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
    this.db.exec(SCHEMA_SQL);
    this.upsert = this.db.prepare(
      `${INSERT_OBJECT_SQL} ON CONFLICT(ref) DO UPDATE SET mtime = excluded.mtime, body = excluded.body`,
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
   * Replaces every object with `rows` (a replica installing a snapshot of the master's database,
   * a restored dump), atomically with `meta`; other meta keys are kept. The deletion log is
   * emptied: event tokens from before are answered from a full scan.
   */
  replaceAll(gen: number, rows: readonly StoredRow[], meta: Record<string, string>): void {
    this.beginReplace().commit(gen, rows, meta);
  }

  /** True while a replacement is being written (beginReplace refuses a second one). */
  get isReplacing(): boolean {
    return this.replacing !== undefined;
  }

  /**
   * As replaceAll, in steps, so the rows can be written while they are still arriving and while
   * the caller loads them: a worker thread writes a complete new file beside the old one (once,
   * without a journal, then fsynced), and `commit` renames it into place. A crash before the
   * rename leaves the old state; after it, the new one.
   */
  beginReplace(): Replacement {
    assert(this.replacing === undefined, 'a replacement of the database is already being written');
    const file = `${this.file}.new-${process.pid}-${++this.replacements}`;
    const write = new FileWrite(file);
    const done = () => {
      if (this.replacing === replacement) this.replacing = undefined;
    };
    const replacement: Replacement = {
      add: (rows) => write.add(rows),
      addLines: (rows, bytes) => write.addLines(rows, bytes),
      commit: (gen, rows, meta, meanwhile) => {
        assert(this.replacing === replacement, 'this replacement is over');
        try {
          const kept = this.db.prepare('SELECT key, value FROM meta').all() as {
            key: string;
            value: string;
          }[];
          const allMeta: Record<string, string> = Object.fromEntries(kept.map((m) => [m.key, m.value]));
          Object.assign(allMeta, meta, { generation_reserved: String(gen + GENERATION_BLOCK) });
          write.finish(rows, allMeta);
          meanwhile?.();
          write.wait();
          this.swapIn(file);
        } catch (e) {
          write.abandon();
          throw e;
        } finally {
          done();
        }
        this.reserved = gen + GENERATION_BLOCK;
      },
      abandon: () => {
        if (this.replacing !== replacement) return;
        write.abandon();
        done();
      },
    };
    this.replacing = replacement;
    return replacement;
  }

  /** Puts the new file in place of the old one and reopens. */
  private swapIn(newFile: string): void {
    // Every commit of the old file into it, so its WAL holds nothing when it goes: an old WAL
    // must never sit beside the new file (SQLite would replay it onto it).
    const [cp] = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    if (cp === undefined || cp.busy !== 0) throw new Error(`${this.file} is busy: its WAL cannot be emptied`);
    this.db.close();
    try {
      rmSync(`${this.file}-wal`, { force: true });
      rmSync(`${this.file}-shm`, { force: true });
      renameSync(newFile, this.file);
      const dir = openSync(dirname(this.file), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    } finally {
      // The new state, or the old one if the rename failed.
      this.open();
    }
    this.commitsSinceCheckpoint = 0;
    this.bytesSinceCheckpoint = 0;
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
