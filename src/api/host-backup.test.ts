// Proves a host backup file is refused when it is not one, truncated, corrupted or of a newer
// schema, before anything is read from it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { SCHEMA_VERSION } from '../model/schema.js';
import { HostBackupError, parseHostBackup } from './host-backup.js';

function file(doc: Record<string, unknown>): string {
  const line = JSON.stringify(doc);
  return `${line}\n${JSON.stringify({ sha256: createHash('sha256').update(line).digest('hex') })}\n`;
}

const doc = {
  format: 'poolstack-host-backup',
  version: 1,
  schema: SCHEMA_VERSION,
  host: 'h',
  hostRef: 'OpaqueRef:h',
  pool: 'p',
  role: 'member',
  master: '10.0.0.1',
  created: '2026-11-26T06:00:00.000Z',
  files: {},
  local: {},
  dump: '',
};

void describe('host backup file', () => {
  void it('reads an intact backup', () => {
    assert.equal(parseHostBackup(file(doc)).host, 'h');
  });

  void it('refuses foreign, truncated, corrupted and newer files', () => {
    const good = file(doc);
    const cases: Array<[string, RegExp]> = [
      ['', /not a Poolstack host backup/],
      ['<?xml version="1.0"?>\n', /not a Poolstack host backup/],
      [good.slice(0, 60), /truncated/],
      [good.split('\n')[0] + '\n', /truncated/],
      [good.replace('"host":"h"', '"host":"x"'), /corrupted/],
      [file({ ...doc, schema: SCHEMA_VERSION + 1 }), /schema version/],
      [file({ ...doc, version: 2 }), /not supported/],
    ];
    for (const [text, why] of cases)
      assert.throws(
        () => parseHostBackup(text),
        (e: unknown) => e instanceof HostBackupError && why.test(e.message),
        JSON.stringify(text.slice(0, 40)),
      );
  });
});
