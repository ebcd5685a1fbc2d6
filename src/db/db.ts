// The object database: every class's rows in memory for fast reads, each write a transaction that
// gets the next generation, is made durable by the SqliteStore (persistent classes only), and is
// appended to the change log that event.from, replication and backups are expressed in.
import { assert } from '../base/assert.js';
import type { Clock } from '../base/clock.js';
import { limits } from '../base/limits.js';
import type { ClassDef } from '../model/define.js';
import {
  completeInPlace,
  bodyConforms,
  recordConforms,
  withDefaults,
  withDefaultsOwned,
  type Resolve,
} from '../model/derive/values.js';
import { NULL_REF } from '../model/types.js';
import type { Deletion, Replacement, SqliteStore, StoredRow } from './sqlite-store.js';

export type Rec = Record<string, unknown>;

/** Local meta key: the generation of the last commit that changed pool data. */
const APPLIED_GEN_KEY = 'applied_gen';

export interface Row {
  readonly cls: string;
  readonly ref: string;
  readonly ctime: number;
  readonly mtime: number;
  readonly rec: Rec;
  /** The persistent fields as stored (JSON), kept so snapshots need not serialise the DB again. */
  readonly json?: string | undefined;
}

export interface Change {
  readonly gen: number;
  readonly cls: string;
  readonly ref: string;
  readonly op: 'add' | 'mod' | 'del';
  /** Creation generation of the object (for deciding add versus mod versus del). */
  readonly ctime: number;
}

interface Inverse {
  readonly field: string;
  readonly parentCls: string;
  readonly parentField: string;
}

/**
 * One persistent object as a commit left it, or its deletion (body null): what replication sends
 * to members, who apply a commit's row changes as one transaction at the same generation.
 */
/** Reads the rows of a snapshot made by rowsJson (after JSON.parse of the message). */
export function parseSnapshotRows(rows: unknown): StoredRow[] {
  assert(Array.isArray(rows), 'snapshot rows must be an array');
  return (rows as [string, string, number, number, string][]).map(([cls, ref, ctime, mtime, text]) => ({
    cls,
    ref,
    ctime,
    mtime,
    body: JSON.parse(text) as Rec,
    text,
  }));
}

export interface RowChange {
  readonly cls: string;
  readonly ref: string;
  readonly ctime: number;
  readonly body: Rec | null;
}

/** A write in progress: reads see its own writes; nothing is visible to others until commit. */
export interface Tx {
  get(cls: string, ref: string): Rec | undefined;
  create(cls: string, ref: string, rec: Rec): void;
  update(cls: string, ref: string, patch: Rec): void;
  delete(cls: string, ref: string): void;
  /** Marks an object modified without changing it (event.inject). */
  touch(cls: string, ref: string): void;
}

type Pending = { cls: string; ref: string; before: Row | undefined; after: Rec | null; touched: boolean };

export class Db {
  private readonly tables = new Map<string, Map<string, Row>>();
  private readonly uuids = new Map<string, Map<string, string>>();
  private readonly inverses = new Map<string, Inverse[]>();
  private readonly log: Change[] = [];
  /** The log holds every change with a generation above this. */
  private logFloor: number;
  private gen: number;
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<(changes: readonly Change[]) => void>();
  private readonly replicationListeners = new Set<(gen: number, rows: readonly RowChange[]) => void>();
  /**
   * A replica follows its master's generations: it takes persistent changes only from applyEntry
   * and installSnapshot, and its local commits (sessions, tasks) do not advance the generation.
   */
  private replica = false;
  private lastPersistentGen: number;

  constructor(
    private readonly store: SqliteStore,
    private readonly classes: Record<string, ClassDef>,
    private readonly clock: Clock,
  ) {
    for (const [name, def] of Object.entries(classes)) {
      if (Object.keys(def.fields).length === 0) continue;
      this.tables.set(name, new Map());
      this.uuids.set(name, new Map());
      for (const [fname, f] of Object.entries(def.fields)) {
        if (f.inverse === undefined || f.ty.kind !== 'ref') continue;
        const list = this.inverses.get(name) ?? [];
        list.push({ field: fname, parentCls: f.ty.cls, parentField: f.inverse });
        this.inverses.set(name, list);
      }
    }
    this.gen = store.loadGeneration();
    this.logFloor = this.gen;
    this.lastPersistentGen = Number(store.getMeta(APPLIED_GEN_KEY) ?? '0');
    this.load(store.loadRows());
  }

  readonly resolve: Resolve = (cls) => this.classes[cls];

  get generation(): number {
    return this.gen;
  }

  get(cls: string, ref: string): Rec | undefined {
    return this.tables.get(cls)?.get(ref)?.rec;
  }

  row(cls: string, ref: string): Row | undefined {
    return this.tables.get(cls)?.get(ref);
  }

  /** Every row of a class, in creation order. Callers must not mutate the records. */
  all(cls: string): ReadonlyMap<string, Row> {
    const t = this.tables.get(cls);
    assert(t !== undefined, `no table ${cls}`);
    return t;
  }

  count(cls: string): number {
    return this.tables.get(cls)?.size ?? 0;
  }

  refByUuid(cls: string, uuid: string): string | undefined {
    return this.uuids.get(cls)?.get(uuid);
  }

  /** The class holding `ref`, searching every table (event.inject, get_record of unknown refs). */
  classOf(ref: string): string | undefined {
    for (const [cls, t] of this.tables) if (t.has(ref)) return cls;
    return undefined;
  }

  /**
   * Runs `fn` as one transaction. If it throws, nothing changes and the error propagates.
   * `meta` (host-local keys) is written in the same durable transaction when it commits rows.
   */
  transact<T>(fn: (tx: Tx) => T, meta?: Record<string, string>): T {
    const pending = new Map<string, Pending>();
    const tx = this.makeTx(pending);
    const result = fn(tx);
    this.commit(pending, meta);
    return result;
  }

  /** Generation of the last commit that changed pool data (what replication has numbered). */
  get appliedGen(): number {
    return this.lastPersistentGen;
  }

  /** Called after each commit with its changes (replication, legacy event queues). */
  onCommit(listener: (changes: readonly Change[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called after each commit that changed persistent rows, with those rows (replication). */
  onReplicatedCommit(listener: (gen: number, rows: readonly RowChange[]) => void): () => void {
    this.replicationListeners.add(listener);
    return () => this.replicationListeners.delete(listener);
  }

  get isReplica(): boolean {
    return this.replica;
  }

  /**
   * Makes this database a replica positioned at `appliedGen` (the last entry it applied), or a
   * master again. A master continues from its current generation.
   */
  setReplica(on: boolean, appliedGen?: number): void {
    this.replica = on;
    if (on && appliedGen !== undefined) {
      this.gen = appliedGen;
      this.log.length = 0;
      this.logFloor = appliedGen;
    }
  }

  /**
   * The persistent rows as they are now, for a snapshot. Rows are immutable (each commit stores
   * new ones), so the snapshot stays consistent while it is serialised and sent bit by bit.
   */
  snapshotRows(): readonly Row[] {
    const out: Row[] = [];
    for (const [cls, t] of this.tables)
      if (this.classes[cls]?.persist) for (const r of t.values()) out.push(r);
    return out;
  }

  /** The persistent rows with their stored JSON texts, and the generation they are at. */
  dumpRows(): {
    gen: number;
    rows: Array<{ cls: string; ref: string; ctime: number; mtime: number; text: string }>;
  } {
    return {
      gen: this.lastPersistentGen,
      rows: this.snapshotRows().map((r) => ({
        cls: r.cls,
        ref: r.ref,
        ctime: r.ctime,
        mtime: r.mtime,
        text: r.json ?? JSON.stringify(persistentBody(this.classes[r.cls] as ClassDef, r.rec)),
      })),
    };
  }

  /**
   * Rows as a JSON array of `[cls, ref, ctime, mtime, body-as-JSON-text]`, the form a snapshot
   * travels in (parseSnapshotRows reads it). Built from the stored texts: a string concatenation,
   * not a serialisation of the records.
   */
  rowsJson(rows: readonly Row[]): string {
    const parts: string[] = [];
    for (const r of rows) {
      const def = this.classes[r.cls];
      assert(def !== undefined);
      const body = r.json ?? JSON.stringify(persistentBody(def, r.rec));
      parts.push(
        `[${JSON.stringify(r.cls)},${JSON.stringify(r.ref)},${r.ctime},${r.mtime},${JSON.stringify(body)}]`,
      );
    }
    return `[${parts.join(',')}]`;
  }

  /**
   * A replica applies one replicated commit: the rows at generation `gen`, durably and atomically
   * with `meta` (its applied position), then in memory. Fields that are not persistent keep their
   * local values.
   */
  applyEntry(gen: number, rows: readonly RowChange[], meta: Record<string, string>): void {
    assert(this.replica, 'applyEntry on a master');
    assert(gen > this.gen, `replicated generation ${gen} is not above ${this.gen}`);
    const upserts: StoredRow[] = [];
    const deletes: Deletion[] = [];
    const applied: { p: Pending; row: Row | undefined }[] = [];
    for (const c of rows) {
      const def = this.classes[c.cls];
      assert(def !== undefined && def.persist && this.tables.has(c.cls), `replicated unknown class ${c.cls}`);
      const before = this.row(c.cls, c.ref);
      let row: Row | undefined;
      if (c.body !== null) {
        const local: Rec = {};
        if (before !== undefined)
          for (const [k, f] of Object.entries(def.fields)) if (!f.persist) local[k] = before.rec[k];
        const rec = { ...withDefaults(def, c.body), ...local };
        const bad = recordConforms(def, rec, this.resolve);
        assert(bad === undefined, `replicated ${c.cls}.${bad} does not conform`);
        const body = persistentBody(def, rec);
        const text = JSON.stringify(body);
        row = { cls: c.cls, ref: c.ref, ctime: c.ctime, mtime: gen, rec, json: text };
        upserts.push({ ...row, body, text });
      } else if (before !== undefined) deletes.push({ gen, cls: c.cls, ref: c.ref, ctime: c.ctime });
      applied.push({ p: { cls: c.cls, ref: c.ref, before, after: row?.rec ?? null, touched: false }, row });
    }
    this.store.commit({ gen, upserts, deletes, meta: { ...meta, [APPLIED_GEN_KEY]: String(gen) } });
    this.lastPersistentGen = gen;
    this.apply(gen, applied);
  }

  /**
   * A replica replaces its whole persistent state with the master's at `gen`. Memory-only
   * classes (sessions, tasks) are kept. Event tokens from before are answered from a full scan.
   */
  installSnapshot(gen: number, rows: readonly StoredRow[], meta: Record<string, string>): void {
    assert(this.replica, 'installSnapshot on a master');
    this.replaceState(gen, rows, meta, true);
  }

  /**
   * Why rows from outside (a restored dump) cannot be loaded, or undefined when they can: an
   * unknown or memory-only class, a duplicate ref, or a record that does not conform to the model
   * once fields it lacks get their defaults. Reads only.
   */
  checkRows(rows: readonly StoredRow[]): string | undefined {
    const checker = this.rowChecker();
    checker.add(rows);
    return checker.problem();
  }

  /**
   * checkRows over rows given a run at a time (a dump as it is read: each row is checked while it
   * is still in the processor's cache, which made the check several times cheaper).
   */
  rowChecker(): { add(rows: readonly StoredRow[]): void; problem(): string | undefined } {
    const refs = new Set<string>();
    let found: string | undefined;
    const check = (r: StoredRow): string | undefined => {
      const def = this.classes[r.cls];
      if (def === undefined || !def.persist) return `unknown class ${r.cls} (${r.ref})`;
      if (refs.has(r.ref)) return `the reference ${r.ref} appears twice`;
      refs.add(r.ref);
      const bad = bodyConforms(def, r.body, this.resolve);
      if (bad === undefined) return undefined;
      return !Object.hasOwn(def.fields, bad)
        ? `${r.cls} ${r.ref} has an unknown field ${bad}`
        : `${r.cls} ${r.ref} has an invalid field ${bad}`;
    };
    return {
      add: (rows) => {
        for (let i = 0; i < rows.length && found === undefined; i++) found = check(rows[i] as StoredRow);
      },
      problem: () => found,
    };
  }

  /**
   * Starts writing a replacement of the persistent state as rows arrive (a restore reading a
   * dump); restoreAll finishes it. Undefined while another is being written.
   */
  beginRestore(): Replacement | undefined {
    return this.store.isReplacing ? undefined : this.store.beginReplace();
  }

  /**
   * A master replaces its whole persistent state with `rows` (checked by checkRows: the caller
   * must have called it on these rows) at generation `gen`, which must be above the current one,
   * in one swap of the database file. Memory-only classes (sessions, tasks) are kept; event tokens
   * from before are answered from a full scan. `ahead` holds rows already sent (beginRestore).
   */
  restoreAll(
    gen: number,
    rows: readonly StoredRow[],
    meta: Record<string, string> = {},
    ahead?: Replacement,
  ): void {
    assert(!this.replica, 'restoreAll on a replica');
    assert(gen > this.gen, `restored generation ${gen} is not above ${this.gen}`);
    // checkRows has validated them: they load without a second check.
    this.replaceState(gen, rows, meta, true, ahead);
  }

  private replaceState(
    gen: number,
    rows: readonly StoredRow[],
    meta: Record<string, string>,
    trusted: boolean,
    ahead?: Replacement,
  ): void {
    // The new file is finished on a worker thread while the tables are loaded here; the old
    // tables are kept until the file is in place, and come back if it cannot be.
    const replacement = ahead ?? this.store.beginReplace();
    const old = new Map<string, [Map<string, Row>, Map<string, string> | undefined]>();
    for (const cls of this.tables.keys()) {
      if (!this.classes[cls]?.persist) continue;
      old.set(cls, [this.tables.get(cls) as Map<string, Row>, this.uuids.get(cls)]);
      this.tables.set(cls, new Map());
      if (this.uuids.has(cls)) this.uuids.set(cls, new Map());
    }
    try {
      replacement.commit(gen, rows, { ...meta, [APPLIED_GEN_KEY]: String(gen) }, () =>
        this.load(rows, trusted),
      );
    } catch (e) {
      for (const [cls, [t, u]] of old) {
        this.tables.set(cls, t);
        if (u !== undefined) this.uuids.set(cls, u);
      }
      throw e;
    }
    this.lastPersistentGen = gen;
    this.gen = gen;
    this.log.length = 0;
    this.logFloor = gen;
    for (const w of [...this.waiters]) w();
  }

  /** Resolves once the generation exceeds `gen`, or after `timeoutMs`. */
  waitForChange(gen: number, timeoutMs: number): Promise<void> {
    if (this.gen > gen) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        this.clock.clearTimeout(timer);
        resolve();
      };
      const timer = this.clock.setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  /**
   * Changes after `since`, coalesced to one per object (latest wins), oldest first. `complete`
   * is false when `since` predates the in-memory log and the answer came from a table scan.
   */
  changesSince(since: number, wanted: (cls: string) => boolean): Change[] {
    const latest = new Map<string, Change>();
    if (since >= this.logFloor) {
      let i = this.firstLogIndexAfter(since);
      for (; i < this.log.length; i++) {
        const c = this.log[i];
        if (c !== undefined && wanted(c.cls)) {
          latest.delete(c.ref);
          latest.set(c.ref, c);
        }
      }
    } else {
      this.scanSince(since, wanted, latest);
    }
    const out: Change[] = [];
    for (const c of latest.values()) {
      const exists = this.row(c.cls, c.ref);
      if (exists !== undefined)
        out.push({ ...c, op: exists.ctime > since ? 'add' : 'mod', ctime: exists.ctime });
      else if (c.ctime <= since) out.push({ ...c, op: 'del' });
    }
    return out.sort((a, b) => a.gen - b.gen);
  }

  close(): void {
    for (const w of [...this.waiters]) w();
    this.store.close();
  }

  private scanSince(since: number, wanted: (cls: string) => boolean, into: Map<string, Change>): void {
    const dels: Deletion[] = this.store.deletionsSince(since);
    for (const d of dels) if (wanted(d.cls)) into.set(d.ref, { ...d, op: 'del' });
    for (const c of this.log) if (c.op === 'del' && c.gen > since && wanted(c.cls)) into.set(c.ref, c);
    for (const [cls, t] of this.tables) {
      if (!wanted(cls)) continue;
      for (const r of t.values()) {
        if (r.mtime > since) into.set(r.ref, { gen: r.mtime, cls, ref: r.ref, op: 'mod', ctime: r.ctime });
      }
    }
  }

  private firstLogIndexAfter(gen: number): number {
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.log[mid]?.gen ?? 0) <= gen) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Fills the tables from stored rows. `trusted` rows are a snapshot the master sent, checked
   * against the model when they were committed there: they are not checked again (for a pool of
   * 10,000 VMs that check was most of the time a joining host took to install the snapshot).
   */
  private load(rows: readonly StoredRow[], trusted = false): void {
    let cls = '';
    let def: ClassDef | undefined;
    let table: Map<string, Row> | undefined;
    let uuids: Map<string, string> | undefined;
    for (const r of rows) {
      if (r.cls !== cls) {
        // Rows come grouped by class: look the class up once per run, not once per row.
        cls = r.cls;
        def = this.classes[cls];
        table = def?.persist === true ? this.tables.get(cls) : undefined;
        uuids = this.uuids.get(cls);
      }
      if (def === undefined || table === undefined) continue;
      // Fields added since the row was written get defaults; non-persistent fields are blanked.
      const rec = trusted ? completeInPlace(def, r.body) : withDefaultsOwned(def, r.body);
      table.set(r.ref, { cls, ref: r.ref, ctime: r.ctime, mtime: r.mtime, rec, json: r.text });
      if (typeof rec.uuid === 'string') uuids?.set(rec.uuid, r.ref);
    }
    this.rebuildInverses();
    for (const [cls, t] of this.tables) {
      const def = this.classes[cls];
      assert(def !== undefined);
      for (const r of t.values()) {
        Object.freeze(r.rec);
        if (trusted) continue;
        const bad = recordConforms(def, r.rec, this.resolve);
        assert(bad === undefined, `stored ${cls} ${r.ref} has a bad field ${bad}`);
      }
    }
  }

  /**
   * Inverse set fields are derived data: recompute them from the child side at load. The only
   * place a stored record is written in place, before any is frozen, read or encoded.
   */
  private rebuildInverses(): void {
    for (const invs of this.inverses.values()) {
      for (const inv of invs) {
        for (const p of this.tables.get(inv.parentCls)?.values() ?? []) p.rec[inv.parentField] = [];
      }
    }
    for (const [cls, invs] of this.inverses) {
      const parents = invs.map((inv) => [inv, this.tables.get(inv.parentCls)] as const);
      for (const child of this.tables.get(cls)?.values() ?? []) {
        for (const [inv, table] of parents) {
          const parent = table?.get(child.rec[inv.field] as string)?.rec;
          if (parent !== undefined) (parent[inv.parentField] as string[]).push(child.ref);
        }
      }
    }
  }

  private makeTx(pending: Map<string, Pending>): Tx {
    const current = (cls: string, ref: string): Rec | undefined => {
      const p = pending.get(ref);
      if (p !== undefined) return p.after ?? undefined;
      return this.get(cls, ref);
    };
    const stage = (cls: string, ref: string): Pending => {
      let p = pending.get(ref);
      if (p === undefined) {
        const before = this.row(cls, ref);
        p = { cls, ref, before, after: before === undefined ? null : { ...before.rec }, touched: false };
        pending.set(ref, p);
      }
      assert(p.cls === cls, `${ref} is a ${p.cls}, not a ${cls}`);
      return p;
    };
    const linkParents = (cls: string, ref: string, rec: Rec, add: boolean) => {
      for (const inv of this.inverses.get(cls) ?? []) {
        const parentRef = rec[inv.field] as string;
        if (parentRef === NULL_REF || current(inv.parentCls, parentRef) === undefined) continue;
        const parent = stage(inv.parentCls, parentRef);
        assert(parent.after !== null);
        const set = (parent.after[inv.parentField] as string[]).filter((r) => r !== ref);
        parent.after[inv.parentField] = add ? [...set, ref] : set;
      }
    };
    const tx: Tx = {
      get: current,
      create: (cls, ref, rec) => {
        const def = this.classes[cls];
        assert(def !== undefined && this.tables.has(cls), `create of unknown class ${cls}`);
        assert(current(cls, ref) === undefined, `create of existing ${ref}`);
        const full = withDefaults(def, rec);
        const p = stage(cls, ref);
        p.after = full;
        linkParents(cls, ref, full, true);
      },
      update: (cls, ref, patch) => {
        const p = stage(cls, ref);
        assert(p.after !== null, `update of missing ${cls} ${ref}`);
        const old = p.after;
        const changesLinks = (this.inverses.get(cls) ?? []).some(
          (i) => i.field in patch && patch[i.field] !== old[i.field],
        );
        if (changesLinks) linkParents(cls, ref, old, false);
        p.after = { ...old, ...patch };
        if (changesLinks) linkParents(cls, ref, p.after, true);
      },
      delete: (cls, ref) => {
        const p = stage(cls, ref);
        assert(p.after !== null, `delete of missing ${cls} ${ref}`);
        linkParents(cls, ref, p.after, false);
        p.after = null;
      },
      touch: (cls, ref) => {
        const p = stage(cls, ref);
        p.touched = true;
      },
    };
    return tx;
  }

  private commit(pending: Map<string, Pending>, meta?: Record<string, string>): void {
    const changed = [...pending.values()].filter((p) => p.touched || !sameRec(p.before?.rec, p.after));
    if (changed.length === 0) return;
    const replicated: RowChange[] = [];
    for (const p of changed) {
      const def = this.classes[p.cls];
      if (def?.persist && persistentChanged(def, p.before?.rec, p.after))
        replicated.push({
          cls: p.cls,
          ref: p.ref,
          ctime: p.before?.ctime ?? this.gen + 1,
          body: p.after === null ? null : persistentBody(def, p.after),
        });
    }
    // A replica's local commits only touch memory-only state and keep the master's generation.
    assert(!this.replica || replicated.length === 0, 'a replica cannot commit pool data');
    const replicatedRefs = new Set(replicated.map((r) => r.ref));
    const replicatedBodies = new Map<string, Rec>();
    for (const r of replicated) if (r.body !== null) replicatedBodies.set(r.ref, r.body);
    const gen = this.replica ? this.gen : this.gen + 1;
    const upserts: StoredRow[] = [];
    const deletes: Deletion[] = [];
    const rows: { p: Pending; row: Row | undefined }[] = [];
    for (const p of changed) {
      const def = this.classes[p.cls];
      assert(def !== undefined);
      const ctime = p.before?.ctime ?? gen;
      const changedBody = replicatedBodies.get(p.ref);
      const json = changedBody !== undefined ? JSON.stringify(changedBody) : p.before?.json;
      const row =
        p.after === null ? undefined : { cls: p.cls, ref: p.ref, ctime, mtime: gen, rec: p.after, json };
      if (row !== undefined) {
        const bad = recordConforms(def, row.rec, this.resolve);
        assert(bad === undefined, `${p.cls}.${bad} does not conform: ${JSON.stringify(row.rec[bad ?? ''])}`);
      }
      rows.push({ p, row });
      if (!def.persist || !replicatedRefs.has(p.ref)) continue;
      if (row !== undefined)
        upserts.push({ ...row, body: changedBody ?? persistentBody(def, row.rec), text: json });
      else if (p.before !== undefined) deletes.push({ gen, cls: p.cls, ref: p.ref, ctime });
    }
    const withGen = replicated.length > 0 ? { ...meta, [APPLIED_GEN_KEY]: String(gen) } : meta;
    this.store.commit({ gen, upserts, deletes, meta: withGen });
    if (replicated.length > 0) this.lastPersistentGen = gen;
    this.apply(gen, rows);
    if (replicated.length > 0) for (const l of this.replicationListeners) l(gen, replicated);
  }

  private apply(gen: number, rows: { p: Pending; row: Row | undefined }[]): void {
    this.gen = gen;
    const changes: Change[] = [];
    for (const { p, row } of rows) {
      const table = this.tables.get(p.cls);
      assert(table !== undefined);
      const oldUuid = p.before?.rec.uuid;
      if (typeof oldUuid === 'string') this.uuids.get(p.cls)?.delete(oldUuid);
      if (row === undefined) table.delete(p.ref);
      else {
        // Stored records are never changed in place: each commit stores a new object (tx.update
        // copies). The RPC codecs cache each record's encoded text by object identity on the
        // strength of this, so it is enforced: writing to a stored record throws.
        Object.freeze(row.rec);
        table.set(p.ref, row);
        if (typeof row.rec.uuid === 'string') this.uuids.get(p.cls)?.set(row.rec.uuid, p.ref);
      }
      const op = row === undefined ? 'del' : p.before === undefined ? 'add' : 'mod';
      changes.push({ gen, cls: p.cls, ref: p.ref, op, ctime: p.before?.ctime ?? gen });
    }
    this.log.push(...changes);
    if (this.log.length > limits.changeLogMax) {
      const drop = this.log.length - limits.changeLogMax;
      this.logFloor = this.log[drop - 1]?.gen ?? this.logFloor;
      this.log.splice(0, drop);
    }
    for (const w of [...this.waiters]) w();
    for (const l of this.listeners) l(changes);
  }
}

function persistentBody(def: ClassDef, rec: Rec): Rec {
  const out: Rec = {};
  for (const [k, f] of Object.entries(def.fields)) if (f.persist) out[k] = rec[k];
  return out;
}

function persistentChanged(def: ClassDef, before: Rec | undefined, after: Rec | null): boolean {
  if (before === undefined || after === null) return before !== undefined || after !== null;
  for (const [k, f] of Object.entries(def.fields)) {
    if (!f.persist) continue;
    const x = before[k];
    const y = after[k];
    if (x === y) continue;
    if (typeof x !== 'object' || typeof y !== 'object' || JSON.stringify(x) !== JSON.stringify(y))
      return true;
  }
  return false;
}

function sameRec(a: Rec | undefined, b: Rec | null): boolean {
  if (a === undefined || b === null) return a === undefined && b === null;
  for (const k of Object.keys(b)) {
    const x = a[k];
    const y = b[k];
    if (x === y) continue;
    if (typeof x !== 'object' || typeof y !== 'object' || JSON.stringify(x) !== JSON.stringify(y))
      return false;
  }
  return true;
}
