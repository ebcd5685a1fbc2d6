// The worker thread of file-writer.ts: builds a complete new database file from the rows it is
// sent, as they come, then makes it durable. The file is not in use by anyone until the store
// renames it into place, so it is written without a journal; only its final fsync matters.
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { workerData, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { rowFields, rowLines } from './dump.js';
import { INSERT_OBJECT_SQL, SCHEMA_SQL } from './sql-schema.js';

/** Rows as sent, a column per field (far fewer objects to copy between threads than a tuple per row). */
export interface Batch {
  refs: string[];
  classes: string[];
  ctimes: number[];
  mtimes: number[];
  bodies: string[];
}

export type ToWriter =
  /** Rows to write; a row whose ref was written before replaces it. */
  | { rows: Batch }
  /** The same, as the whole row lines of a pool dump (src/db/dump.ts), in UTF-8. */
  | { lines: Uint8Array }
  /** The end: refs to remove, the meta table, then commit and fsync. */
  | { end: true; deletes: string[]; meta: [string, string][] };

export interface WriterData {
  file: string;
  port: MessagePort;
  /** Set to 1 (and notified) once the answer is on `port`. */
  done: SharedArrayBuffer;
}

const { file, port, done } = workerData as WriterData;
/** The first failure: everything after it is skipped, and it is the answer. */
let failure: string | undefined;

let db: Database.Database | undefined;
let put: Database.Statement;
let remove: Database.Statement;
let setMeta: Database.Statement;

function open(): Database.Database {
  const d = new Database(file);
  d.pragma('journal_mode = OFF');
  d.pragma('synchronous = OFF');
  // Room for the whole primary-key index and the pages being filled: rows come in ref order only
  // by chance, and without it inserts would read back index pages written out before.
  d.pragma('cache_size = -262144');
  d.exec(SCHEMA_SQL);
  put = d.prepare(
    `${INSERT_OBJECT_SQL} ON CONFLICT(ref) DO UPDATE SET cls = excluded.cls, ctime = excluded.ctime, ` +
      'mtime = excluded.mtime, body = excluded.body',
  );
  remove = d.prepare('DELETE FROM objects WHERE ref = ?');
  setMeta = d.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
  d.exec('BEGIN');
  return d;
}

/** Bytes of rows written since the file was last flushed to disk. */
let unflushed = 0;
/**
 * The pages SQLite has written out are flushed every so often while rows still arrive, so the
 * final fsync, which the restore waits for, has only the last of them left to do.
 */
const FLUSH_EVERY_BYTES = 32 * 1024 * 1024;

function written(bytes: number): void {
  unflushed += bytes;
  if (unflushed < FLUSH_EVERY_BYTES) return;
  unflushed = 0;
  flush();
}

function flush(): void {
  const fd = openSync(file, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeRows(b: Batch): void {
  for (let i = 0; i < b.refs.length; i++) {
    const body = b.bodies[i] as string;
    put.run(b.refs[i], b.classes[i], b.ctimes[i], b.mtimes[i], body);
    written(body.length);
  }
}

function writeLines(bytes: Uint8Array): void {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  for (const line of rowLines(buf)) {
    const r = rowFields(line, 0);
    put.run(r.ref, r.cls, r.ctime, r.mtime, r.text);
  }
  written(bytes.length);
}

function finish(d: Database.Database, deletes: string[], meta: [string, string][]): void {
  for (const ref of deletes) remove.run(ref);
  for (const [k, v] of meta) setMeta.run(k, v);
  d.exec('COMMIT');
  // The store opens it in WAL mode; set here, its first open changes nothing.
  d.pragma('journal_mode = WAL');
  d.close();
  flush();
}

port.on('message', (m: ToWriter) => {
  try {
    if (failure !== undefined) return;
    db ??= open();
    if ('rows' in m) writeRows(m.rows);
    else if ('lines' in m) writeLines(m.lines);
    else finish(db, m.deletes, m.meta);
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
  } finally {
    if ('end' in m) answer();
  }
});

function answer(): void {
  if (db?.open === true) db.close();
  port.postMessage(failure === undefined ? { ok: true } : { error: failure });
  const flag = new Int32Array(done);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  port.close();
}
