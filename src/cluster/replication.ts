// Streamed replication of the pool database as pure state machines (DESIGN.md principles 2-4).
// The master appends every commit to a log of entries (epoch, gen, prevGen, changes) and streams
// them to members; a member applies an entry only if it directly follows what it has, and acks
// (epoch, gen) once durable. A write is acknowledged to the client when a quorum of the pool holds
// it. Every master change starts a new epoch at a known generation; anything from an older epoch
// is refused, and a host whose history is not a prefix of the master's is resynchronised from a
// snapshot, which drops any tail that was never acknowledged.
//
// Nothing here touches time, sockets or files: inputs are events, outputs are actions.
import { assert } from '../base/assert.js';

export type HostId = string;

export interface Entry<C = unknown> {
  readonly epoch: number;
  readonly gen: number;
  /** The generation of the entry before this one in the log (generations may have gaps). */
  readonly prevGen: number;
  /**
   * The epoch of that previous entry. A member appends only when its last entry is exactly
   * (prevEpoch, prevGen): a same-numbered entry from another epoch is a tail to drop, not a match.
   */
  readonly prevEpoch: number;
  readonly changes: C;
}

/** Where each epoch began: epoch e covers generations [startGen(e), startGen(next epoch)). */
export interface EpochStart {
  readonly epoch: number;
  readonly startGen: number;
}

export type AckMode = 'majority' | 'all' | 'async';

/** How many hosts (master included) must hold a write before it is acknowledged. */
export function quorumSize(mode: AckMode, poolSize: number): number {
  assert(poolSize >= 1);
  if (mode === 'async') return 1;
  if (mode === 'all') return poolSize;
  return Math.floor(poolSize / 2) + 1;
}

/**
 * True when a host that last applied `gen` in `epoch` holds a prefix of the history `starts`
 * describes (so it can continue from the log); false when it has a tail the pool never kept.
 */
export function isPrefix(starts: readonly EpochStart[], epoch: number, gen: number): boolean {
  const i = starts.findIndex((s) => s.epoch === epoch);
  if (i < 0) return gen === 0;
  const next = starts[i + 1];
  return next === undefined || gen < next.startGen;
}

export type MasterAction<C> =
  | { kind: 'send'; to: HostId; entries: Entry<C>[] }
  | { kind: 'snapshot'; to: HostId }
  | { kind: 'acknowledge'; upToGen: number };

interface Follower {
  /** Highest generation the member has durably applied (as far as the master knows). */
  matchGen: number;
  /** Highest generation sent (entries after it are sent next). */
  sentGen: number;
  connected: boolean;
}

/** The master side: log, per-member progress and the quorum-acknowledged generation. */
export class MasterReplicator<C> {
  private readonly log: Entry<C>[] = [];
  private readonly followers = new Map<HostId, Follower>();
  private ackedGen: number;
  private lastGen: number;
  private lastEpoch: number;

  constructor(
    readonly self: HostId,
    readonly epoch: number,
    /** Generation of the last entry this master holds (its DB generation at promotion). */
    startGen: number,
    /** Epoch of the entry at startGen (what this master held when it took over). */
    startEpoch: number,
    private members: readonly HostId[],
    private mode: AckMode,
    private readonly logMax: number,
  ) {
    this.ackedGen = startGen;
    this.lastGen = startGen;
    this.lastEpoch = startEpoch;
    for (const m of members)
      if (m !== self) this.followers.set(m, { matchGen: 0, sentGen: 0, connected: false });
  }

  /** Hosts left out of the quorum (a two-host pool's dead member in degraded mode). */
  private excluded: ReadonlySet<HostId> = new Set();

  /**
   * The pool's hosts changed (join, eject, forget) or some are left out of the quorum. Progress
   * of hosts that stay is kept. May acknowledge writes the smaller quorum now holds.
   */
  setMembers(members: readonly HostId[], excluded: ReadonlySet<HostId> = new Set()): MasterAction<C>[] {
    this.members = members;
    this.excluded = excluded;
    for (const m of members)
      if (m !== this.self && !this.followers.has(m))
        this.followers.set(m, { matchGen: 0, sentGen: 0, connected: false });
    for (const id of [...this.followers.keys()]) if (!members.includes(id)) this.followers.delete(id);
    return this.advance();
  }

  setMode(mode: AckMode): MasterAction<C>[] {
    this.mode = mode;
    return this.advance();
  }

  /**
   * Hosts that must hold a write before it is acknowledged. Leaving hosts out of the quorum
   * (degraded mode, a forced promotion) never lowers it below size - majority + 1: every majority
   * of the pool, which an unforced promotion needs, must still meet a host holding the write.
   * (The simulator found the counterexample without this floor: a forced master alone in a pool
   * of three acknowledged writes that two other hosts then promoted without.)
   */
  private needed(): number {
    const n = this.members.length;
    const q = quorumSize(this.mode, n - this.excluded.size);
    return this.mode === 'async' ? q : Math.max(q, n - quorumSize('majority', n) + 1);
  }

  /** How many hosts must hold a write, and how many hold the head now. */
  quorum(): { needed: number; holding: number; connected: number } {
    let holding = 1;
    let connected = 1;
    for (const [id, f] of this.followers) {
      if (this.excluded.has(id)) continue;
      if (f.matchGen >= this.lastGen) holding++;
      if (f.connected) connected++;
    }
    return { needed: this.needed(), holding, connected };
  }

  /** Generation up to which writes are held by a quorum and may be acknowledged. */
  get acknowledgedGen(): number {
    return this.ackedGen;
  }

  get headGen(): number {
    return this.lastGen;
  }

  /** The last entry committed here, if still in the log. */
  get head(): Entry<C> | undefined {
    return this.log.at(-1);
  }

  progress(host: HostId): { matchGen: number; connected: boolean } | undefined {
    const f = this.followers.get(host);
    return f === undefined ? undefined : { matchGen: f.matchGen, connected: f.connected };
  }

  /** A local commit: appended to the log, streamed to connected members. */
  commit(gen: number, changes: C): MasterAction<C>[] {
    assert(gen > this.lastGen, 'generations only grow');
    const entry: Entry<C> = {
      epoch: this.epoch,
      gen,
      prevGen: this.lastGen,
      prevEpoch: this.lastEpoch,
      changes,
    };
    this.lastGen = gen;
    this.lastEpoch = this.epoch;
    this.log.push(entry);
    if (this.log.length > this.logMax) this.log.splice(0, this.log.length - this.logMax);
    const out: MasterAction<C>[] = [];
    for (const [id, f] of this.followers) {
      if (f.connected && f.sentGen === entry.prevGen) {
        out.push({ kind: 'send', to: id, entries: [entry] });
        f.sentGen = gen;
      }
    }
    return [...out, ...this.advance()];
  }

  /**
   * A member (re)connects saying what it holds. It continues from the log when its history is a
   * prefix of ours and the log still reaches back far enough; otherwise it gets a snapshot.
   */
  connect(host: HostId, epoch: number, gen: number, starts: readonly EpochStart[]): MasterAction<C>[] {
    const f = this.followers.get(host);
    if (f === undefined) return [];
    f.connected = true;
    const first = this.log[0];
    const reachable =
      gen === this.lastGen || (first !== undefined && gen >= first.prevGen && gen <= this.lastGen);
    if (!isPrefix(starts, epoch, gen) || !reachable || epoch > this.epoch) {
      f.matchGen = 0;
      f.sentGen = this.lastGen;
      return [{ kind: 'snapshot', to: host }];
    }
    f.matchGen = gen;
    const entries = this.log.filter((e) => e.gen > gen);
    f.sentGen = this.lastGen;
    const out: MasterAction<C>[] = entries.length > 0 ? [{ kind: 'send', to: host, entries }] : [];
    return [...out, ...this.advance()];
  }

  /** A snapshot taken at `gen` was installed by the member. */
  snapshotInstalled(host: HostId, gen: number): MasterAction<C>[] {
    const f = this.followers.get(host);
    if (f === undefined) return [];
    f.matchGen = gen;
    const entries = this.log.filter((e) => e.gen > gen);
    f.sentGen = this.lastGen;
    const out: MasterAction<C>[] = entries.length > 0 ? [{ kind: 'send', to: host, entries }] : [];
    return [...out, ...this.advance()];
  }

  disconnect(host: HostId): void {
    const f = this.followers.get(host);
    if (f !== undefined) f.connected = false;
  }

  /** A member durably applied up to `gen` in `epoch`. Acks from other epochs are ignored. */
  ack(host: HostId, epoch: number, gen: number): MasterAction<C>[] {
    const f = this.followers.get(host);
    if (f === undefined || epoch !== this.epoch) return [];
    if (gen > f.matchGen) f.matchGen = Math.min(gen, this.lastGen);
    return this.advance();
  }

  private advance(): MasterAction<C>[] {
    const held = [this.lastGen];
    for (const [id, f] of this.followers) if (!this.excluded.has(id)) held.push(f.matchGen);
    held.sort((a, b) => b - a);
    const q = this.needed();
    const candidate = held[q - 1] ?? 0;
    if (candidate <= this.ackedGen) return [];
    this.ackedGen = candidate;
    return [{ kind: 'acknowledge', upToGen: candidate }];
  }
}

export type MemberVerdict<C> =
  | { kind: 'apply'; entries: Entry<C>[] }
  | { kind: 'stale'; epoch: number }
  | { kind: 'resync' }
  | { kind: 'ignore' };

/** The member side: decides whether entries follow what it holds. */
export class MemberReplica {
  constructor(
    /** The epoch this host follows (adopted on promotion votes and from its master's entries). */
    public epoch: number,
    public appliedGen: number,
    /** Epoch of the last applied entry. */
    public appliedEpoch: number,
  ) {}

  /** Entries from the master of `epoch`. */
  receive<C>(epoch: number, entries: readonly Entry<C>[]): MemberVerdict<C> {
    if (epoch < this.epoch) return { kind: 'stale', epoch: this.epoch };
    const fresh = entries.filter((e) => e.gen > this.appliedGen);
    if (fresh.length === 0) return { kind: 'ignore' };
    const first = fresh[0] as Entry<C>;
    if (first.prevGen !== this.appliedGen || first.prevEpoch !== this.appliedEpoch) return { kind: 'resync' };
    for (let i = 1; i < fresh.length; i++) {
      const [a, b] = [fresh[i - 1] as Entry<C>, fresh[i] as Entry<C>];
      if (b.prevGen !== a.gen || b.prevEpoch !== a.epoch) return { kind: 'resync' };
    }
    return { kind: 'apply', entries: fresh };
  }

  /** Record that `entries` are now durable (called after the DB transaction commits). */
  applied(epoch: number, gen: number): void {
    assert(gen >= this.appliedGen, 'a replica never goes back except by snapshot');
    this.epoch = Math.max(this.epoch, epoch);
    this.appliedGen = gen;
    this.appliedEpoch = epoch;
  }

  /** A snapshot replaces everything: the replica is now exactly the master's state at `gen`. */
  installSnapshot(epoch: number, gen: number, lastEntryEpoch: number): void {
    this.epoch = epoch;
    this.appliedGen = gen;
    this.appliedEpoch = lastEntryEpoch;
  }
}

export interface PromotionCheck {
  readonly ok: boolean;
  readonly reason: string;
}

/**
 * Whether `self` may make itself master (pool-emergency-transition-to-master without --force):
 * never while the master answers, never while a reachable host holds a newer (epoch, gen).
 */
export function checkPromotion(
  self: { id: HostId; epoch: number; gen: number },
  masterAnswers: boolean,
  reachable: readonly { id: HostId; epoch: number; gen: number }[],
): PromotionCheck {
  if (masterAnswers) return { ok: false, reason: 'the master still answers' };
  const newer = reachable.find((h) => h.epoch > self.epoch || (h.epoch === self.epoch && h.gen > self.gen));
  if (newer !== undefined)
    return {
      ok: false,
      reason: `host ${newer.id} holds a newer database (epoch ${newer.epoch}, generation ${newer.gen})`,
    };
  return { ok: true, reason: '' };
}

/** Hosts a pool may hold; also the stride of epoch numbers. */
export const EPOCH_SLOTS = 1024;

/**
 * The epoch a new master takes: above every epoch it has seen, and ending in the host's own slot,
 * so two hosts promoted on either side of a partition (with --force) can never share an epoch.
 */
export function nextEpoch(seen: readonly number[], slot: number): number {
  assert(Number.isInteger(slot) && slot >= 0 && slot < EPOCH_SLOTS, 'host slot out of range');
  const round = Math.floor(Math.max(0, ...seen) / EPOCH_SLOTS) + 1;
  return round * EPOCH_SLOTS + slot;
}
