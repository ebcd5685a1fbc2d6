// Proves the DB's contract: one generation per committed transaction, atomic rollback, inverse
// sets kept in step, coalesced change queries (add/mod/del) from the log and from a table scan
// after reopening, generations that never go backwards across a restart, and restores that
// check rows from outside before replacing the state, and replace it whole or not at all.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defineClass, field } from '../model/define.js';
import { NULL_REF, t } from '../model/types.js';
import { SCHEMA_VERSION } from '../model/schema.js';
import { FakeClock } from '../testing/fake-clock.js';
import { Db } from './db.js';
import { encodeDump, parseDump } from './dump.js';
import { SqliteStore, type StoredRow } from './sqlite-store.js';

const Parent = defineClass({
  name: 'parent',
  doc: 'test parent',
  fields: {
    uuid: field(t.string, 'DynamicRO', 'id'),
    name_label: field(t.string, 'RW', 'name'),
    kids: field(t.set(t.ref('kid')), 'DynamicRO', 'children'),
  },
  messages: {},
});
const Kid = defineClass({
  name: 'kid',
  doc: 'test child',
  fields: {
    uuid: field(t.string, 'DynamicRO', 'id'),
    owner: field(t.ref('parent'), 'RW', 'owner', { default: NULL_REF, inverse: 'kids' }),
    scratch: field(t.int, 'RW', 'not persisted', { persist: false, default: 7 }),
  },
  messages: {},
});
const Ephemeral = defineClass({
  name: 'eph',
  doc: 'in memory only',
  persist: false,
  fields: { uuid: field(t.string, 'DynamicRO', 'id') },
  messages: {},
});
const classes = { parent: Parent, kid: Kid, eph: Ephemeral };

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function open(dir?: string): { db: Db; dir: string } {
  const d = dir ?? mkdtempSync(join(tmpdir(), 'poolstack-db-'));
  if (dir === undefined) dirs.push(d);
  return { db: new Db(new SqliteStore(join(d, 'state.db')), classes, new FakeClock()), dir: d };
}

describe('Db', () => {
  it('gives each committed transaction exactly one new generation', () => {
    const { db } = open();
    const g0 = db.generation;
    db.transact((tx) => {
      tx.create('parent', 'OpaqueRef:p1', { uuid: 'u1', name_label: 'a' });
      tx.create('parent', 'OpaqueRef:p2', { uuid: 'u2', name_label: 'b' });
    });
    assert.equal(db.generation, g0 + 1);
    db.transact(() => undefined);
    assert.equal(db.generation, g0 + 1, 'an empty transaction commits nothing');
    db.transact((tx) => tx.update('parent', 'OpaqueRef:p1', { name_label: 'a' }));
    assert.equal(db.generation, g0 + 1, 'a write of the same value commits nothing');
    db.close();
  });

  it('rolls back everything when the transaction throws', () => {
    const { db } = open();
    const g0 = db.generation;
    assert.throws(() =>
      db.transact((tx) => {
        tx.create('parent', 'OpaqueRef:p1', { uuid: 'u1' });
        throw new Error('boom');
      }),
    );
    assert.equal(db.generation, g0);
    assert.equal(db.get('parent', 'OpaqueRef:p1'), undefined);
    db.close();
  });

  it('refuses a record that does not conform to its class', () => {
    const { db } = open();
    assert.throws(
      () => db.transact((tx) => tx.create('parent', 'OpaqueRef:p1', { uuid: 'u1', name_label: 3 })),
      /conform/,
    );
    assert.equal(db.get('parent', 'OpaqueRef:p1'), undefined);
    db.close();
  });

  it('keeps inverse sets in step on create, re-parent and delete', () => {
    const { db } = open();
    db.transact((tx) => {
      tx.create('parent', 'OpaqueRef:p1', { uuid: 'u1' });
      tx.create('parent', 'OpaqueRef:p2', { uuid: 'u2' });
      tx.create('kid', 'OpaqueRef:k1', { uuid: 'k1', owner: 'OpaqueRef:p1' });
    });
    assert.deepEqual(db.get('parent', 'OpaqueRef:p1')?.kids, ['OpaqueRef:k1']);
    db.transact((tx) => tx.update('kid', 'OpaqueRef:k1', { owner: 'OpaqueRef:p2' }));
    assert.deepEqual(db.get('parent', 'OpaqueRef:p1')?.kids, []);
    assert.deepEqual(db.get('parent', 'OpaqueRef:p2')?.kids, ['OpaqueRef:k1']);
    db.transact((tx) => tx.delete('kid', 'OpaqueRef:k1'));
    assert.deepEqual(db.get('parent', 'OpaqueRef:p2')?.kids, []);
    db.close();
  });

  it('never changes a stored record in place: every commit stores new objects (encoding caches rely on it)', () => {
    const { db, dir } = open();
    db.transact((tx) => {
      tx.create('parent', 'OpaqueRef:p1', { uuid: 'u1', name_label: 'a' });
      tx.create('kid', 'OpaqueRef:k1', { uuid: 'k1', owner: 'OpaqueRef:p1' });
    });
    const p1 = db.get('parent', 'OpaqueRef:p1');
    const k1 = db.get('kid', 'OpaqueRef:k1');
    assert.ok(p1 !== undefined && Object.isFrozen(p1));
    assert.throws(() => {
      (p1 as Record<string, unknown>).name_label = 'changed';
    }, TypeError);
    db.transact((tx) => tx.update('parent', 'OpaqueRef:p1', { name_label: 'b' }));
    assert.notEqual(db.get('parent', 'OpaqueRef:p1'), p1);
    assert.equal(p1.name_label, 'a');
    // An inverse-set change (a new kid) replaces the parent too, leaving the old object as it was.
    const p1b = db.get('parent', 'OpaqueRef:p1');
    db.transact((tx) => tx.create('kid', 'OpaqueRef:k2', { uuid: 'k2', owner: 'OpaqueRef:p1' }));
    assert.notEqual(db.get('parent', 'OpaqueRef:p1'), p1b);
    assert.deepEqual(p1b?.kids, ['OpaqueRef:k1']);
    assert.equal(db.get('kid', 'OpaqueRef:k1'), k1, 'untouched records keep their object');
    db.close();
    // After a restart the inverse sets are rebuilt, and then frozen as well.
    const again = open(dir).db;
    const loaded = again.get('parent', 'OpaqueRef:p1');
    assert.deepEqual(loaded?.kids, ['OpaqueRef:k1', 'OpaqueRef:k2']);
    assert.ok(Object.isFrozen(loaded));
    again.close();
  });

  it('coalesces changes to one event per object with add/mod/del relative to the token', () => {
    const { db } = open();
    db.transact((tx) => tx.create('parent', 'OpaqueRef:old', { uuid: 'o' }));
    db.transact((tx) => tx.create('parent', 'OpaqueRef:gone', { uuid: 'g' }));
    const token = db.generation;
    db.transact((tx) => tx.update('parent', 'OpaqueRef:old', { name_label: 'x' }));
    db.transact((tx) => tx.update('parent', 'OpaqueRef:old', { name_label: 'y' }));
    db.transact((tx) => tx.create('parent', 'OpaqueRef:new', { uuid: 'n' }));
    db.transact((tx) => tx.create('parent', 'OpaqueRef:brief', { uuid: 'b' }));
    db.transact((tx) => tx.delete('parent', 'OpaqueRef:brief'));
    db.transact((tx) => tx.delete('parent', 'OpaqueRef:gone'));
    const ops = db.changesSince(token, () => true).map((c) => `${c.op}:${c.ref}`);
    assert.deepEqual(ops, ['mod:OpaqueRef:old', 'add:OpaqueRef:new', 'del:OpaqueRef:gone']);
    assert.deepEqual(
      db.changesSince(db.generation, () => true),
      [],
    );
    db.close();
  });

  it('persists across reopen: generation continues above every issued one, deletions still reported', () => {
    const { db, dir } = open();
    db.transact((tx) => tx.create('parent', 'OpaqueRef:p', { uuid: 'p' }));
    db.transact((tx) => tx.create('kid', 'OpaqueRef:k', { uuid: 'k', owner: 'OpaqueRef:p', scratch: 42 }));
    db.transact((tx) => tx.create('parent', 'OpaqueRef:q', { uuid: 'q' }));
    const token = db.generation;
    db.transact((tx) => tx.delete('parent', 'OpaqueRef:q'));
    db.transact((tx) => tx.create('eph', 'OpaqueRef:e', { uuid: 'e' }));
    const issued = db.generation;
    db.close();
    const again = open(dir).db;
    assert.ok(again.generation >= issued, 'no generation is handed out twice');
    assert.equal(again.get('eph', 'OpaqueRef:e'), undefined, 'non-persistent classes start empty');
    assert.equal(again.get('kid', 'OpaqueRef:k')?.scratch, 7, 'non-persistent fields reset to default');
    assert.deepEqual(again.get('parent', 'OpaqueRef:p')?.kids, ['OpaqueRef:k']);
    assert.equal(again.refByUuid('parent', 'p'), 'OpaqueRef:p');
    const ops = again.changesSince(token, () => true).map((c) => `${c.op}:${c.ref}`);
    assert.deepEqual(ops, ['del:OpaqueRef:q']);
    again.close();
  });

  it('wakes waiters on commit and times out otherwise', async () => {
    const clock = new FakeClock();
    const d = mkdtempSync(join(tmpdir(), 'poolstack-db-'));
    dirs.push(d);
    const db = new Db(new SqliteStore(join(d, 'state.db')), classes, clock);
    const g = db.generation;
    const woke = db.waitForChange(g, 60_000);
    db.transact((tx) => tx.create('parent', 'OpaqueRef:p', { uuid: 'p' }));
    await woke;
    const timed = db.waitForChange(db.generation, 1000);
    clock.advance(1000);
    await timed;
    db.close();
  });
});

describe('Db restore', () => {
  const row = (cls: string, ref: string, body: Record<string, unknown>) => ({
    cls,
    ref,
    ctime: 1,
    mtime: 1,
    body,
  });

  it('checks rows from outside before they replace the state', () => {
    const { db } = open();
    const good = [row('parent', 'OpaqueRef:p', { uuid: 'p', name_label: 'x' })];
    assert.equal(db.checkRows(good), undefined);
    assert.match(db.checkRows([row('nope', 'OpaqueRef:n', {})]) ?? '', /unknown class/);
    assert.match(db.checkRows([row('eph', 'OpaqueRef:e', { uuid: 'e' })]) ?? '', /unknown class/);
    assert.match(db.checkRows([...good, ...good]) ?? '', /twice/);
    assert.match(db.checkRows([row('parent', 'OpaqueRef:p', { uuid: 1 })]) ?? '', /invalid field uuid/);
    assert.match(
      db.checkRows([row('parent', 'OpaqueRef:p', { uuid: 'p', extra: 1 })]) ?? '',
      /unknown field extra/,
    );
    const proto = JSON.parse('{"uuid":"p","__proto__":{"x":1}}') as Record<string, unknown>;
    assert.match(db.checkRows([row('parent', 'OpaqueRef:p', proto)]) ?? '', /unknown field __proto__/);
  });

  it('replaces the persistent state at a higher generation, durably, keeping memory-only rows', () => {
    const { db, dir } = open();
    db.transact((tx) => {
      tx.create('parent', 'OpaqueRef:old', { uuid: 'old', name_label: 'old' });
      tx.create('eph', 'OpaqueRef:e', { uuid: 'e' });
    });
    const gen = db.generation + 10;
    db.restoreAll(gen, [
      row('parent', 'OpaqueRef:p', { uuid: 'p', name_label: 'restored' }),
      row('kid', 'OpaqueRef:k', { uuid: 'k', owner: 'OpaqueRef:p' }),
    ]);
    assert.equal(db.generation, gen);
    assert.equal(db.get('parent', 'OpaqueRef:old'), undefined);
    assert.deepEqual(db.get('parent', 'OpaqueRef:p')?.kids, ['OpaqueRef:k']);
    assert.equal(db.get('kid', 'OpaqueRef:k')?.scratch, 7);
    assert.notEqual(db.get('eph', 'OpaqueRef:e'), undefined);
    assert.throws(() => db.restoreAll(gen, []));
    db.close();
    const again = open(dir).db;
    assert.equal(again.get('parent', 'OpaqueRef:p')?.name_label, 'restored');
    assert.ok(again.generation >= gen);
    again.close();
  });

  it('keeps the old state, in memory and on disk, when the new file cannot be written', () => {
    const { db, dir } = open();
    db.transact((tx) => tx.create('parent', 'OpaqueRef:old', { uuid: 'old', name_label: 'old' }));
    const gen = db.generation;
    // An unchecked row the file cannot hold (no creation generation) makes the write fail.
    const unwritable = { ...row('parent', 'OpaqueRef:p', { uuid: 'p', name_label: 'x' }), ctime: null };
    assert.throws(
      () => db.restoreAll(gen + 10, [unwritable as unknown as ReturnType<typeof row>]),
      /NOT NULL/,
    );
    assert.equal(db.generation, gen);
    assert.equal(db.get('parent', 'OpaqueRef:old')?.name_label, 'old');
    assert.equal(db.get('parent', 'OpaqueRef:p'), undefined);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.includes('.new')),
      [],
    );
    db.transact((tx) => tx.update('parent', 'OpaqueRef:old', { name_label: 'still writable' }));
    db.close();
    const again = open(dir).db;
    assert.equal(again.get('parent', 'OpaqueRef:old')?.name_label, 'still writable');
    again.close();
  });

  it('writes rows sent ahead, then holds exactly the final rows: changed, dropped and added ones corrected', () => {
    const { db, dir } = open();
    const ahead = db.beginRestore();
    assert.ok(ahead !== undefined);
    assert.equal(db.beginRestore(), undefined, 'one at a time');
    ahead.add([
      row('parent', 'OpaqueRef:a', { uuid: 'a', name_label: 'as read' }),
      row('parent', 'OpaqueRef:b', { uuid: 'b', name_label: 'dropped' }),
      row('kid', 'OpaqueRef:c', { uuid: 'c', owner: 'OpaqueRef:a' }),
    ]);
    db.restoreAll(
      db.generation + 5,
      [
        row('parent', 'OpaqueRef:a', { uuid: 'a', name_label: 'edited' }),
        row('kid', 'OpaqueRef:c', { uuid: 'c', owner: 'OpaqueRef:a' }),
        row('kid', 'OpaqueRef:d', { uuid: 'd', owner: 'OpaqueRef:a' }),
      ],
      {},
      ahead,
    );
    assert.deepEqual(db.get('parent', 'OpaqueRef:a')?.kids, ['OpaqueRef:c', 'OpaqueRef:d']);
    db.close();
    const again = open(dir).db;
    assert.equal(again.get('parent', 'OpaqueRef:a')?.name_label, 'edited');
    assert.equal(again.get('parent', 'OpaqueRef:b'), undefined);
    assert.equal(again.get('kid', 'OpaqueRef:d')?.owner, 'OpaqueRef:a');
    // An abandoned one leaves nothing behind, and another can start.
    const next = again.beginRestore();
    next?.add([row('parent', 'OpaqueRef:x', { uuid: 'x' })]);
    next?.abandon();
    const another = again.beginRestore();
    assert.ok(another !== undefined);
    another.abandon();
    assert.equal(again.get('parent', 'OpaqueRef:x'), undefined);
    again.close();
  });

  it('writes a dump as it is read, from the bytes of its lines, then the edits of the restore', async () => {
    const { db, dir } = open();
    const rows = Array.from({ length: 3000 }, (_, i) => ({
      cls: i % 2 === 0 ? 'parent' : 'kid',
      ref: `OpaqueRef:${String(i).padStart(5, '0')}`,
      ctime: 1,
      mtime: 2,
      text: JSON.stringify(i % 2 === 0 ? { uuid: `u${i}`, name_label: `p\u00e9${i}` } : { uuid: `u${i}` }),
    }));
    const header = { schema: SCHEMA_VERSION, pool: 'p', master: 'm', epoch: 1, generation: 9, created: '' };
    const text = Buffer.concat([...encodeDump(header, rows)]).toString('utf8');
    async function* chunks(): AsyncGenerator<string> {
      for (let i = 0; i < text.length; i += 1000) yield text.slice(i, i + 1000);
    }
    const ahead = db.beginRestore();
    assert.ok(ahead !== undefined);
    const dump = await parseDump(chunks(), SCHEMA_VERSION, (got, _h, bytes) => ahead.addLines(got, bytes));
    const first = dump.rows[0] as StoredRow;
    first.body.name_label = 'edited after reading';
    first.text = JSON.stringify(first.body);
    db.restoreAll(db.generation + 5, dump.rows, {}, ahead);
    db.close();
    const again = open(dir).db;
    assert.equal(again.get('parent', 'OpaqueRef:00000')?.name_label, 'edited after reading');
    assert.equal(again.get('parent', 'OpaqueRef:02998')?.name_label, 'p\u00e92998');
    assert.equal(again.get('kid', 'OpaqueRef:02999')?.uuid, 'u2999');
    again.close();
  });

  it('keeps host-local meta keys, and ignores a new file a crash left unfinished', () => {
    const d = mkdtempSync(join(tmpdir(), 'poolstack-db-'));
    dirs.push(d);
    const store = new SqliteStore(join(d, 'state.db'));
    store.putMeta('role', 'master');
    store.replaceAll(50, [row('parent', 'OpaqueRef:p', { uuid: 'p' })], { epoch: '3' });
    store.close();
    writeFileSync(join(d, 'state.db.new-1-1'), 'half a database');
    const again = new SqliteStore(join(d, 'state.db'));
    assert.equal(existsSync(join(d, 'state.db.new-1-1')), false);
    assert.equal(again.getMeta('role'), 'master');
    assert.equal(again.getMeta('epoch'), '3');
    assert.deepEqual(
      again.loadRows().map((r) => r.ref),
      ['OpaqueRef:p'],
    );
    assert.ok(again.loadGeneration() >= 50);
    again.close();
  });
});
