// The worker thread of file-writer.ts: builds a complete new database file from the rows it is
// sent, then makes it durable. The file is not in use by anyone until the store renames it into
// place, so it is written without a journal; only its final fsync matters.
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { workerData, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { INSERT_OBJECT_SQL, SCHEMA_SQL } from './sql-schema.js';

/** One row as sent: ref, cls, ctime, mtime, body text. */
export type WireRow = [string, string, number, number, string];

export type ToWriter = { rows: WireRow[] } | { end: true; meta: [string, string][] };

export interface WriterData {
  file: string;
  port: MessagePort;
  /** Set to 1 (and notified) once the answer is on `port`. */
  done: SharedArrayBuffer;
}

const { file, port, done } = workerData as WriterData;
const rows: WireRow[] = [];

function write(meta: [string, string][]): void {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.exec(SCHEMA_SQL);
    // In key order, each insert appends to the primary-key index instead of splitting pages all
    // over it (refs are random): several times faster for a large database.
    rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const insert = db.prepare(INSERT_OBJECT_SQL);
    const setMeta = db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    db.transaction(() => {
      for (const r of rows) insert.run(r[0], r[1], r[2], r[3], r[4]);
      for (const [k, v] of meta) setMeta.run(k, v);
    })();
    // The store opens it in WAL mode; set here, the first open needs no change of mode.
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
  const fd = openSync(file, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

port.on('message', (m: ToWriter) => {
  if ('rows' in m) {
    for (const r of m.rows) rows.push(r);
    return;
  }
  let answer: { ok: true } | { error: string };
  try {
    write(m.meta);
    answer = { ok: true };
  } catch (e) {
    answer = { error: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(answer);
  const flag = new Int32Array(done);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  port.close();
});
