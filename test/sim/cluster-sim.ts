// A deterministic pool simulator for the replication state machines in src/cluster: N hosts,
// a seeded network (delay, loss, partitions), crashes, restarts, freezes, client writes and
// operator promotions. After every step it checks the safety invariants; a failure reports the
// seed, so `npm run sim -- --seed S` replays it exactly.
import {
  checkPromotion,
  MemberReplica,
  isPrefix,
  MasterReplicator,
  nextEpoch,
  quorumSize,
  type EpochStart,
  type Entry,
  type MasterAction,
} from '../../src/cluster/replication.js';
import { SeededRandom } from '../../src/testing/fake-clock.js';

type Change = { write: number };

interface Host {
  id: string;
  alive: boolean;
  frozen: boolean;
  /** Durable state: the applied entries, the epoch adopted, the history of epoch starts. */
  db: Entry<Change>[];
  adoptedEpoch: number;
  /** Volatile: present while this host acts as master. */
  master: MasterReplicator<Change> | undefined;
  /** Highest (epoch of last entry, gen) seen, for the never-go-back check. */
  high: [number, number];
}

type Msg =
  | { kind: 'entries'; from: string; to: string; epoch: number; entries: Entry<Change>[] }
  | { kind: 'ack'; from: string; to: string; epoch: number; gen: number }
  | { kind: 'hello'; from: string; to: string; epoch: number; dataEpoch: number; gen: number }
  | { kind: 'stale'; from: string; to: string; epoch: number };

export interface SimResult {
  seed: number;
  steps: number;
  writes: number;
  acked: number;
  promotions: number;
  violation: string | undefined;
  trace: string[];
}

const LOG_MAX = 64;

export class ClusterSim {
  private readonly rng: SeededRandom;
  private readonly hosts: Host[];
  private queue: { at: number; msg: Msg }[] = [];
  private now = 0;
  private cut = new Set<string>();
  private nextWrite = 1;
  private readonly acked = new Map<number, { epoch: number; gen: number }>();
  private promotions = 0;
  readonly trace: string[] = [];

  constructor(
    readonly seed: number,
    readonly size: number,
  ) {
    this.rng = new SeededRandom(seed);
    this.hosts = Array.from({ length: size }, (_, i) => ({
      id: `h${i}`,
      alive: true,
      frozen: false,
      db: [],
      adoptedEpoch: 1,
      master: undefined,
      high: [0, 0],
    }));
    const h0 = this.hosts[0] as Host;
    h0.master = this.newMaster(h0, 1);
    for (const h of this.hosts.slice(1))
      this.send({ kind: 'hello', from: h.id, to: h0.id, epoch: 1, dataEpoch: 1, gen: 0 });
  }

  private newMaster(h: Host, epoch: number): MasterReplicator<Change> {
    return new MasterReplicator<Change>(
      h.id,
      epoch,
      lastGen(h),
      dataEpoch(h),
      this.hosts.map((x) => x.id),
      'majority',
      LOG_MAX,
    );
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rng.next() * xs.length)] as T;
  }

  private link(a: string, b: string): boolean {
    return !this.cut.has(`${a}|${b}`) && !this.cut.has(`${b}|${a}`);
  }

  private up(h: Host): boolean {
    return h.alive && !h.frozen;
  }

  private host(id: string): Host {
    return this.hosts.find((h) => h.id === id) as Host;
  }

  private send(msg: Msg): void {
    if (this.rng.next() < 0.05) return; // lost
    this.queue.push({ at: this.now + 1 + Math.floor(this.rng.next() * 5), msg });
  }

  private act(h: Host, actions: MasterAction<Change>[]): void {
    const m = h.master;
    if (m === undefined) return;
    for (const a of actions) {
      if (a.kind === 'send')
        this.send({ kind: 'entries', from: h.id, to: a.to, epoch: m.epoch, entries: a.entries });
      else if (a.kind === 'snapshot') this.snapshot(h, this.host(a.to));
      else this.acknowledge(h, m.epoch, a.upToGen);
    }
  }

  /** The client learns its writes up to `gen` are durable on a quorum. */
  private acknowledge(h: Host, epoch: number, gen: number): void {
    for (const e of h.db)
      if (e.epoch === epoch && e.gen <= gen && !this.acked.has(e.changes.write))
        this.acked.set(e.changes.write, { epoch, gen: e.gen });
  }

  /** A snapshot stands for the master's whole state; it arrives at once if the link is up. */
  private snapshot(from: Host, to: Host): void {
    const m = from.master;
    if (m === undefined || !this.up(to) || !this.link(from.id, to.id) || to.adoptedEpoch > m.epoch) return;
    to.db = [...from.db];
    to.adoptedEpoch = m.epoch;
    this.trace.push(`${this.now} snapshot ${from.id}->${to.id} gen ${lastGen(to)}`);
    this.act(from, m.snapshotInstalled(to.id, lastGen(to)));
  }

  private deliver(msg: Msg): void {
    const to = this.host(msg.to);
    if (!this.up(to) || !this.link(msg.from, msg.to)) return;
    if (msg.kind === 'hello') {
      const m = to.master;
      if (m === undefined) return;
      if (msg.epoch > m.epoch) return this.demote(to, msg.epoch);
      this.act(to, m.connect(msg.from, msg.dataEpoch, msg.gen, startsOf(to.db)));
    } else if (msg.kind === 'entries') this.receive(to, msg);
    else if (msg.kind === 'ack') {
      const m = to.master;
      if (m !== undefined && msg.epoch > m.epoch) return this.demote(to, msg.epoch);
      if (m !== undefined) this.act(to, m.ack(msg.from, msg.epoch, msg.gen));
    } else if (msg.kind === 'stale' && to.master !== undefined && msg.epoch > to.master.epoch)
      this.demote(to, msg.epoch);
  }

  private receive(to: Host, msg: Extract<Msg, { kind: 'entries' }>): void {
    if (msg.epoch < to.adoptedEpoch)
      return this.send({ kind: 'stale', from: to.id, to: msg.from, epoch: to.adoptedEpoch });
    if (to.master !== undefined) {
      if (msg.epoch > to.master.epoch) this.demote(to, msg.epoch);
      else return;
    }
    to.adoptedEpoch = msg.epoch;
    // The member's decision is the real state machine's.
    const verdict = new MemberReplica(to.adoptedEpoch, lastGen(to), dataEpoch(to)).receive(
      msg.epoch,
      msg.entries,
    );
    if (verdict.kind === 'resync') {
      return this.send({
        kind: 'hello',
        from: to.id,
        to: msg.from,
        epoch: to.adoptedEpoch,
        dataEpoch: dataEpoch(to),
        gen: lastGen(to),
      });
    }
    if (verdict.kind !== 'apply') return;
    to.db.push(...verdict.entries);
    this.send({ kind: 'ack', from: to.id, to: msg.from, epoch: msg.epoch, gen: lastGen(to) });
  }

  private demote(h: Host, epoch: number): void {
    this.trace.push(`${this.now} ${h.id} demoted by epoch ${epoch}`);
    h.master = undefined;
    h.adoptedEpoch = Math.max(h.adoptedEpoch, epoch);
  }

  private write(): void {
    const masters = this.hosts.filter((h) => this.up(h) && h.master !== undefined);
    if (masters.length > 0) this.commitOn(this.pick(masters));
  }

  private commitOn(h: Host): void {
    const m = h.master as MasterReplicator<Change>;
    const actions = m.commit(lastGen(h) + 1, { write: this.nextWrite++ });
    h.db.push(m.head as Entry<Change>);
    this.act(h, actions);
  }

  /** pool-emergency-transition-to-master on `c` (forced or not), then recover-slaves. */
  private promote(c: Host, force: boolean): void {
    if (!this.up(c) || c.master !== undefined) return;
    const others = this.hosts.filter((h) => h !== c);
    const reachable = others.filter((h) => this.up(h) && this.link(c.id, h.id));
    const masterAnswers = reachable.some((h) => h.master !== undefined);
    if (!force && reachable.length + 1 < quorumSize('majority', this.size)) return;
    const epoch = nextEpoch([c.adoptedEpoch, ...reachable.map((h) => h.adoptedEpoch)], this.hosts.indexOf(c));
    // Each reachable host adopts the new epoch and reports what it holds (its vote).
    const votes = reachable.map((h) => ({ id: h.id, epoch: dataEpoch(h), gen: lastGen(h) }));
    const check = checkPromotion({ id: c.id, epoch: dataEpoch(c), gen: lastGen(c) }, masterAnswers, votes);
    if (!force && !check.ok) return;
    for (const h of reachable) {
      if (h.master !== undefined) this.demote(h, epoch);
      h.adoptedEpoch = epoch;
    }
    if (!force) {
      for (const [w, at] of this.acked) {
        if (!c.db.some((e) => e.changes.write === w))
          this.fail(
            `promotion of ${c.id} to epoch ${epoch} lost acknowledged write ${w} (${at.epoch}/${at.gen})`,
          );
      }
    }
    c.adoptedEpoch = epoch;
    c.master = this.newMaster(c, epoch);
    // The new epoch starts with its own entry (the real one records pool.master), so every host
    // that follows it moves to (epoch, gen) above anything of the old epoch, dropped tails included.
    this.commitOn(c);
    this.promotions++;
    this.trace.push(`${this.now} ${c.id} promoted to epoch ${epoch}${force ? ' (forced)' : ''}`);
    for (const h of reachable)
      this.send({ kind: 'hello', from: h.id, to: c.id, epoch, dataEpoch: dataEpoch(h), gen: lastGen(h) });
    if (force)
      for (const w of [...this.acked.keys()])
        if (!c.db.some((e) => e.changes.write === w)) this.acked.delete(w);
  }

  private violation: string | undefined;

  private fail(msg: string): void {
    this.violation ??= msg;
  }

  private checkInvariants(): void {
    const byEpoch = new Map<number, number>();
    for (const h of this.hosts)
      if (h.alive && h.master !== undefined)
        byEpoch.set(h.master.epoch, (byEpoch.get(h.master.epoch) ?? 0) + 1);
    for (const [e, n] of byEpoch) if (n > 1) this.fail(`${n} masters in epoch ${e}`);
    const current = this.hosts
      .filter((h) => h.alive && h.master !== undefined)
      .sort((a, b) => (b.master?.epoch ?? 0) - (a.master?.epoch ?? 0))[0];
    for (const h of this.hosts) {
      const mine: [number, number] = [dataEpoch(h), lastGen(h)];
      if (mine[0] < h.high[0] || (mine[0] === h.high[0] && mine[1] < h.high[1]))
        this.fail(`${h.id} went back from ${h.high.join('/')} to ${mine.join('/')}`);
      h.high = mine;
      if (
        current === undefined ||
        h === current ||
        h.master !== undefined ||
        !isPrefix(startsOf(current.db), dataEpoch(h), lastGen(h))
      )
        continue;
      for (const e of h.db) {
        const m = current.db.find((x) => x.gen === e.gen);
        if (
          m !== undefined &&
          m.changes.write !== e.changes.write &&
          h.adoptedEpoch === current.master?.epoch
        ) {
          this.fail(`${h.id} diverges from master ${current.id} at gen ${e.gen}`);
        }
      }
    }
  }

  private step(): void {
    const r = this.rng.next();
    const h = this.pick(this.hosts);
    if (r < 0.45) this.write();
    else if (r < 0.5) {
      h.alive = false;
      h.master = undefined;
      this.trace.push(`${this.now} ${h.id} crashes`);
    } else if (r < 0.56 && !h.alive) {
      h.alive = true;
      this.trace.push(`${this.now} ${h.id} restarts as member`);
      for (const o of this.hosts)
        if (o !== h)
          this.send({
            kind: 'hello',
            from: h.id,
            to: o.id,
            epoch: h.adoptedEpoch,
            dataEpoch: dataEpoch(h),
            gen: lastGen(h),
          });
    } else if (r < 0.6) h.frozen = !h.frozen;
    else if (r < 0.64) {
      const o = this.pick(this.hosts);
      if (o !== h) this.cut.add(`${h.id}|${o.id}`);
    } else if (r < 0.68) this.cut.clear();
    else if (r < 0.71) this.promote(h, this.rng.next() < 0.15);
    const due = this.queue.filter((q) => q.at <= this.now);
    this.queue = this.queue.filter((q) => q.at > this.now);
    for (const q of due) this.deliver(q.msg);
    if (this.rng.next() < 0.2) {
      // Members periodically re-announce themselves to every host, as reconnection does.
      for (const m of this.hosts)
        if (this.up(m) && m.master === undefined)
          for (const o of this.hosts)
            if (o.master !== undefined)
              this.send({
                kind: 'hello',
                from: m.id,
                to: o.id,
                epoch: m.adoptedEpoch,
                dataEpoch: dataEpoch(m),
                gen: lastGen(m),
              });
    }
    this.now++;
    this.checkInvariants();
  }

  run(steps: number): SimResult {
    let i = 0;
    for (; i < steps && this.violation === undefined; i++) this.step();
    return {
      seed: this.seed,
      steps: i,
      writes: this.nextWrite - 1,
      acked: this.acked.size,
      promotions: this.promotions,
      violation: this.violation,
      trace: this.trace,
    };
  }
}

/** Each epoch begins with its master's first entry, so the history is derived from the log. */
function startsOf(db: readonly Entry<Change>[]): EpochStart[] {
  const out: EpochStart[] = [{ epoch: 1, startGen: 1 }];
  for (const e of db)
    if (e.epoch !== (out.at(-1) as EpochStart).epoch) out.push({ epoch: e.epoch, startGen: e.gen });
  return out;
}

function lastGen(h: Host): number {
  return h.db.at(-1)?.gen ?? 0;
}

function dataEpoch(h: Host): number {
  return h.db.at(-1)?.epoch ?? 1;
}
