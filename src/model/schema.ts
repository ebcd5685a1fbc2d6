// The datamodel's schema version, stamped on every pool database dump, and the migrations that
// bring rows of an older version up to date when such a dump is restored. Bump SCHEMA_VERSION
// with every change of persistent fields that an older dump would lack or hold differently, and
// add the migration from the previous version.
import { NULL_DATE, NULL_REF } from './types.js';

export const SCHEMA_VERSION = 2;

/** A row as a migration sees it: its class and record, changed in place. */
export interface MigratingRow {
  cls: string;
  body: Record<string, unknown>;
}

/** migrations[v] brings a row of version v to version v + 1. */
const migrations: Record<number, (row: MigratingRow) => void> = {
  // 1 → 2 (disk leases): VDIs show their read-write lease as the master last heard of it.
  1: (row) => {
    if (row.cls !== 'VDI') return;
    row.body.lease_holder ??= NULL_REF;
    row.body.lease_epoch ??= 0;
    row.body.lease_expires ??= NULL_DATE;
  },
};

/** Migrates rows written at schema `from` to SCHEMA_VERSION, keeping their JSON texts in step. */
export function migrateRows(rows: Array<MigratingRow & { text?: string | undefined }>, from: number): void {
  if (from >= SCHEMA_VERSION) return;
  for (const row of rows) {
    for (let v = from; v < SCHEMA_VERSION; v++) migrations[v]?.(row);
    row.text = JSON.stringify(row.body);
  }
}
