// The SQLite schema of a host's state.db, shared by the store (src/db/sqlite-store.ts) and the
// worker that writes a whole new database file (src/db/file-writer-worker.ts).
export const SCHEMA_SQL = `
  CREATE TABLE IF NOT EXISTS objects (
    ref TEXT PRIMARY KEY, cls TEXT NOT NULL, ctime INTEGER NOT NULL, mtime INTEGER NOT NULL, body TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS deletions (
    gen INTEGER NOT NULL, cls TEXT NOT NULL, ref TEXT NOT NULL, ctime INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS deletions_gen ON deletions(gen);
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

export const INSERT_OBJECT_SQL = 'INSERT INTO objects (ref, cls, ctime, mtime, body) VALUES (?, ?, ?, ?, ?)';
