// A deterministic pool simulator for the state machines in src/cluster: N hosts, each with its own
// skewed and drifting clock, a seeded network (delay, loss, partitions), crashes, clean shutdowns,
// restarts, freezes, client writes and operator promotions. Masters replicate with
// MasterReplicator and watch members with Liveness on their own clocks; like the daemon
// (src/cluster/coordinator.ts), a two-host pool's master leaves a dead, unreachable member out of
// the quorum (degraded mode), and a forced promotion leaves the hosts it could not reach out of it
// until they say hello again. After every step it checks the safety invariants; a failure reports
// the seed, so `npm run sim -- --seed S` replays it exactly.
import { Liveness, defaultLiveness, type LivenessChange } from '../../src/cluster/liveness.js';
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

/** Steps per schedule in `npm test`; `npm run sim` uses the same so a seed replays as tested. */
export const SIM_STEPS = 150;

/**
 * Pool size for a seed (shared by the test and the replay command): a quarter of the schedules run
 * a two-host pool (degraded mode), a quarter five hosts, the rest three.
 */
export function hostsFor(seed: number): number {
  if (seed % 4 === 0) return 2;
  return seed % 3 === 0 ? 5 : 3;
}

/** Simulated time per step; a message takes 1 to MAX_DELAY_STEPS steps. */
export const STEP_MS = 500;
export const MAX_DELAY_STEPS = 5;
/** The daemon's defaults: dead after 30 steps of silence, heartbeats every 4 steps. */
const LIVENESS = defaultLiveness;
/** Clock offsets up to ±30 s and drift up to ±1% (far worse than real quartz, so it shows). */
const MAX_OFFSET_MS = 30_000;
const MAX_DRIFT = 0.01;

/** A host's clocks both run at (1 + drift) of true time; wall and monotonic differ by a base. */
interface HostClock {
  /** Wall clock minus true time at the start. */
  offsetMs: number;
  drift: number;
  /** Monotonic readings start from an arbitrary base, as after a boot: never comparable to wall time. */
  monoBaseMs: number;
}

/** A master's view of member liveness, volatile like the master role itself. */
interface Watch {
  liveness: Liveness;
  /** Master's monotonic time when it took over (every member starts live then). */
  sinceMs: number;
  /** The checker's own record per member: master's monotonic time of the last message heard. */
  heardMs: Map<string, number>;
  /** ... and of the last clean-shutdown notice, which legitimately makes a member dead at once. */
  byeMs: Map<string, number>;
  /** Two-host degraded mode: the only member is out of the quorum (the daemon's `degraded`). */
  degraded: boolean;
  /** Hosts the forced promotion that made this master could not reach, out until their hello. */
  forcedOut: Set<string>;
  /** Master's monotonic time of the last probe of members that do not stream from it. */
  probeMs: number;
}

interface Host {
  id: string;
  alive: boolean;
  frozen: boolean;
  clock: HostClock;
  /** Own monotonic time at which the next heartbeat is due. */
  nextHeartbeatMs: number;
  /** True time since which the host has been down (crashed or frozen); undefined while up. */
  downSinceMs: number | undefined;
  /** Durable state: the applied entries, the epoch adopted, the history of epoch starts. */
  db: Entry<Change>[];
  adoptedEpoch: number;
  /** Volatile: present while this host acts as master (`watch` comes and goes with it). */
  master: MasterReplicator<Change> | undefined;
  watch: Watch | undefined;
  /** Highest (epoch of last entry, gen) seen, for the never-go-back check. */
  high: [number, number];
}

type Msg =
  | { kind: 'entries'; from: string; to: string; epoch: number; entries: Entry<Change>[] }
  | { kind: 'ack'; from: string; to: string; epoch: number; gen: number }
  | { kind: 'hello'; from: string; to: string; epoch: number; dataEpoch: number; gen: number }
  | { kind: 'stale'; from: string; to: string; epoch: number }
  /** `sentAtMs` is the sender's (skewed) wall clock, as xapi's heartbeat carries ("time", now). */
  | { kind: 'heartbeat'; from: string; to: string; epoch: number; sentAtMs: number }
  | { kind: 'bye'; from: string; to: string };

export interface SimResult {
  seed: number;
  steps: number;
  writes: number;
  acked: number;
  promotions: number;
  /** Liveness transitions masters reported (dead, live again). */
  deadReports: number;
  liveReports: number;
  /** Masters demoted by a member's 'stale' answer. */
  staleDemotions: number;
  /** Two-host masters that entered degraded mode, and writes they acknowledged alone in it. */
  degradedEntries: number;
  degradedAcks: number;
  /** Hosts forced promotions left out of the quorum, and of those, how many came back by hello. */
  forcedExclusions: number;
  forcedReturns: number;
  /** Writes acknowledged by a quorum a forced promotion's exclusions made smaller than a majority. */
  reducedAcks: number;
  /**
   * Writes acknowledged while held by fewer hosts than any unforced promotion hears from (fewer
   * than size - majority + 1), so some majority could promote without them.
   */
  thinAcks: number;
  /**
   * Unforced promotions the rules refused while the candidate lacked an acknowledged write (and of
   * those, a write a two-host master acknowledged alone in degraded mode).
   */
  refusedLacking: number;
  refusedLackingDegraded: number;
  /** Acknowledged writes a forced promotion gave up (the candidate did not hold them). */
  forcedGiveUps: number;
  violation: string | undefined;
  trace: string[];
}

const LOG_MAX = 64;

export class ClusterSim {
  private readonly rng: SeededRandom;
  private readonly hosts: Host[];
  private queue: { at: number; msg: Msg }[] = [];
  /** The step number; true time is now × STEP_MS, which no host can read directly. */
  private now = 0;
  private cut = new Set<string>();
  private nextWrite = 1;
  private readonly acked = new Map<number, { epoch: number; gen: number }>();
  private promotions = 0;
  /** Forced promotions: the epoch and the writes its master held when it took over. */
  private readonly forced: { epoch: number; writes: Set<number> }[] = [];
  private deadReports = 0;
  private liveReports = 0;
  private staleDemotions = 0;
  private degradedEntries = 0;
  private degradedAcks = 0;
  private forcedExclusions = 0;
  private forcedReturns = 0;
  private reducedAcks = 0;
  private thinAcks = 0;
  private refusedLacking = 0;
  private refusedLackingDegraded = 0;
  private forcedGiveUps = 0;
  /** Writes a two-host master acknowledged alone, in degraded mode. */
  private readonly degradedWrites = new Set<number>();
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
      clock: {
        offsetMs: Math.round((this.rng.next() * 2 - 1) * MAX_OFFSET_MS),
        drift: (this.rng.next() * 2 - 1) * MAX_DRIFT,
        monoBaseMs: Math.round(this.rng.next() * 1e9),
      },
      nextHeartbeatMs: 0,
      downSinceMs: undefined,
      db: [],
      adoptedEpoch: 1,
      master: undefined,
      watch: undefined,
      high: [0, 0],
    }));
    for (const h of this.hosts) h.nextHeartbeatMs = this.mono(h);
    const h0 = this.hosts[0] as Host;
    this.becomeMaster(h0, 1);
    for (const h of this.hosts.slice(1))
      this.send({ kind: 'hello', from: h.id, to: h0.id, epoch: 1, dataEpoch: 1, gen: 0 });
  }

  /** Host h's monotonic clock at true time `trueMs` (default: now). */
  private mono(h: Host, trueMs = this.now * STEP_MS): number {
    return h.clock.monoBaseMs + trueMs * (1 + h.clock.drift);
  }

  /** Host h's wall clock now: what it stamps on heartbeats. */
  private wall(h: Host): number {
    return h.clock.offsetMs + this.now * STEP_MS * (1 + h.clock.drift);
  }

  private becomeMaster(h: Host, epoch: number): void {
    h.master = new MasterReplicator<Change>(
      h.id,
      epoch,
      lastGen(h),
      dataEpoch(h),
      this.hosts.map((x) => x.id),
      'majority',
      LOG_MAX,
    );
    const t = this.mono(h);
    const members = this.hosts.filter((x) => x !== h).map((x) => x.id);
    h.watch = {
      liveness: new Liveness(LIVENESS, members, t),
      sinceMs: t,
      heardMs: new Map(),
      byeMs: new Map(),
      degraded: false,
      forcedOut: new Set(),
      probeMs: t,
    };
  }

  /**
   * The coordinator's refreshMembers: every host is a member; hosts a forced promotion could not
   * reach, and in degraded mode every other host, are left out of the quorum.
   */
  private refreshMembers(h: Host): void {
    const m = h.master;
    const w = h.watch;
    if (m === undefined || w === undefined) return;
    const excluded = new Set(w.forcedOut);
    if (w.degraded) for (const x of this.hosts) if (x !== h) excluded.add(x.id);
    this.act(
      h,
      m.setMembers(
        this.hosts.map((x) => x.id),
        excluded,
      ),
    );
  }

  /** The coordinator's setDegraded. */
  private setDegraded(h: Host, on: boolean): void {
    const w = h.watch;
    if (w === undefined || w.degraded === on) return;
    w.degraded = on;
    if (on) this.degradedEntries++;
    this.trace.push(`${this.now} ${h.id} ${on ? 'degraded: acknowledging alone' : 'degraded mode over'}`);
    this.refreshMembers(h);
  }

  /**
   * The coordinator's probeAbsent, every two heartbeat intervals of the master's clock, for the
   * members that do not stream from it. A probe is a round trip: it fails when the member is
   * crashed, frozen or cut off from the master at that moment. In a two-host pool, a member that
   * is dead on the master's clock and fails the probe is left out of the quorum; one that answers
   * ends degraded mode.
   */
  private probe(h: Host): void {
    const m = h.master;
    const w = h.watch;
    if (m === undefined || w === undefined) return;
    const t = this.mono(h);
    if (t - w.probeMs < 2 * LIVENESS.heartbeatIntervalMs) return;
    w.probeMs = t;
    const absent = this.hosts.filter((x) => x !== h && m.progress(x.id)?.connected !== true);
    if (absent.length === 0) return;
    const unreachable = absent.every((x) => !this.up(x) || !this.link(h.id, x.id));
    const other = absent[0] as Host;
    this.setDegraded(h, this.size === 2 && unreachable && !w.liveness.isLive(other.id));
  }

  private dropMaster(h: Host): void {
    h.master = undefined;
    h.watch = undefined;
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
    this.queue.push({ at: this.now + 1 + Math.floor(this.rng.next() * MAX_DELAY_STEPS), msg });
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
    for (const e of h.db) {
      const w = e.changes.write;
      if (e.epoch !== epoch || e.gen > gen || this.acked.has(w)) continue;
      // A deposed master may still gather a quorum of hosts that never heard of a forced
      // promotion; what it acknowledges outside the forced master's history was given up by the
      // operator's --force (docs/replication.md), so only the unforced promotion rules must keep it.
      if (this.forced.some((f) => f.epoch > epoch && !f.writes.has(w))) continue;
      this.acked.set(w, { epoch, gen: e.gen });
      if (h.watch?.degraded === true) {
        this.degradedWrites.add(w);
        this.degradedAcks++;
      } else if ((h.master?.quorum().needed ?? 0) < quorumSize('majority', this.size)) this.reducedAcks++;
      const holders = this.hosts.filter((x) => holds(x, w)).length;
      if (holders < this.size - quorumSize('majority', this.size) + 1) {
        this.thinAcks++;
        this.trace.push(`${this.now} ${h.id} acknowledges write ${w} held by ${holders} host(s) only`);
      }
    }
  }

  /** A snapshot stands for the master's whole state; it arrives at once if the link is up. */
  private snapshot(from: Host, to: Host): void {
    const m = from.master;
    if (m === undefined || !this.up(to) || !this.link(from.id, to.id) || to.adoptedEpoch > m.epoch) return;
    // A late hello can make a newer master send a snapshot to a host that has since been promoted
    // (in an older epoch): like any newer epoch, it makes that host a member before it installs.
    if (to.master !== undefined) this.demote(to, m.epoch, 'snapshot');
    to.db = [...from.db];
    to.adoptedEpoch = m.epoch;
    this.trace.push(`${this.now} snapshot ${from.id}->${to.id} gen ${lastGen(to)}`);
    this.act(from, m.snapshotInstalled(to.id, lastGen(to)));
  }

  private deliver(msg: Msg): void {
    const to = this.host(msg.to);
    if (!this.up(to) || !this.link(msg.from, msg.to)) return;
    this.hear(to, msg);
    if (msg.kind === 'hello') {
      const m = to.master;
      if (m === undefined) return;
      if (msg.epoch > m.epoch) return this.demote(to, msg.epoch, 'hello');
      // A host a forced promotion left out is back in the quorum from its hello on.
      if (to.watch?.forcedOut.delete(msg.from) === true) {
        this.forcedReturns++;
        this.trace.push(`${this.now} ${to.id} takes ${msg.from} back into the quorum`);
        this.refreshMembers(to);
      }
      this.act(to, m.connect(msg.from, msg.dataEpoch, msg.gen, startsOf(to.db)));
    } else if (msg.kind === 'entries') this.receive(to, msg);
    else if (msg.kind === 'ack') {
      const m = to.master;
      if (m !== undefined && msg.epoch > m.epoch) return this.demote(to, msg.epoch, 'ack');
      if (m !== undefined) this.act(to, m.ack(msg.from, msg.epoch, msg.gen));
    } else if (msg.kind === 'stale' || msg.kind === 'heartbeat') {
      // A member answering 'stale' (or heartbeating) from a newer epoch means another master was
      // promoted since: this one must step down, or it would keep taking writes nobody will keep.
      if (to.master !== undefined && msg.epoch > to.master.epoch) this.demote(to, msg.epoch, msg.kind);
    }
    if (msg.kind !== 'bye' && to.master !== undefined && msg.epoch > to.master.epoch)
      this.fail(
        `${to.id} still master of epoch ${to.master.epoch} after a ${msg.kind} of epoch ${msg.epoch}`,
      );
  }

  /** A master notes every message as a sign of life from its sender, on its own clock. */
  private hear(to: Host, msg: Msg): void {
    const w = to.watch;
    if (w === undefined) return;
    const t = this.mono(to);
    if (msg.kind === 'bye') {
      w.byeMs.set(msg.from, t);
      return this.onLiveness(to, w.liveness.shuttingDown(msg.from, t));
    }
    w.heardMs.set(msg.from, t);
    if (msg.kind !== 'heartbeat') return this.onLiveness(to, w.liveness.heartbeat(msg.from, t));
    this.onLiveness(to, w.liveness.heartbeat(msg.from, t, msg.sentAtMs, this.wall(to)));
    // The skew estimate lags the true skew by the message's delay on the sender's clock, no more
    // (give or take a microsecond of floating-point rounding).
    const from = this.host(msg.from);
    const trueSkew = this.wall(from) - this.wall(to);
    const lag = trueSkew - (w.liveness.skewMs(msg.from) ?? NaN);
    if (!(lag >= 0 && lag <= MAX_DELAY_STEPS * STEP_MS * (1 + from.clock.drift) + 1e-3))
      this.fail(`${to.id} estimates ${msg.from}'s skew ${lag} ms off the truth`);
  }

  private onLiveness(h: Host, changes: LivenessChange[]): void {
    for (const c of changes) {
      this.trace.push(`${this.now} ${h.id} sees ${c.host} ${c.live ? 'live' : 'dead'}`);
      if (c.live) {
        this.liveReports++;
        // A member heard again ends degraded mode at once (the coordinator's syncLiveFlags).
        this.setDegraded(h, false);
      } else {
        this.deadReports++;
        // Stop streaming to a dead member; its next hello reconnects it from what it holds.
        h.master?.disconnect(c.host);
      }
    }
  }

  private receive(to: Host, msg: Extract<Msg, { kind: 'entries' }>): void {
    if (msg.epoch < to.adoptedEpoch)
      return this.send({ kind: 'stale', from: to.id, to: msg.from, epoch: to.adoptedEpoch });
    if (to.master !== undefined) {
      if (msg.epoch > to.master.epoch) this.demote(to, msg.epoch, 'entries');
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

  private demote(h: Host, epoch: number, why: string): void {
    this.trace.push(`${this.now} ${h.id} demoted by epoch ${epoch} (${why})`);
    if (why === 'stale') this.staleDemotions++;
    this.dropMaster(h);
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
    if (!force && reachable.length + 1 < quorumSize('majority', this.size)) return this.refused(c);
    const epoch = nextEpoch([c.adoptedEpoch, ...reachable.map((h) => h.adoptedEpoch)], this.hosts.indexOf(c));
    // Each reachable host adopts the new epoch and reports what it holds (its vote).
    const votes = reachable.map((h) => ({ id: h.id, epoch: dataEpoch(h), gen: lastGen(h) }));
    const check = checkPromotion({ id: c.id, epoch: dataEpoch(c), gen: lastGen(c) }, masterAnswers, votes);
    if (!force && !check.ok) return this.refused(c);
    for (const h of reachable) {
      if (h.master !== undefined) this.demote(h, epoch, 'promotion');
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
    if (force) this.forced.push({ epoch, writes: new Set(c.db.map((e) => e.changes.write)) });
    this.becomeMaster(c, epoch);
    this.promotions++;
    this.trace.push(`${this.now} ${c.id} promoted to epoch ${epoch}${force ? ' (forced)' : ''}`);
    if (force)
      for (const w of [...this.acked.keys()])
        if (!holds(c, w)) {
          this.acked.delete(w);
          this.forcedGiveUps++;
        }
    // The new epoch starts with its own entry (the real one records pool.master), so every host
    // that follows it moves to (epoch, gen) above anything of the old epoch, dropped tails included.
    this.commitOn(c);
    if (force) {
      // As the coordinator: hosts the forced promotion could not reach (crashed, frozen or cut off
      // from it now) are left out of the quorum until they say hello again.
      const out = others.filter((h) => !reachable.includes(h));
      (c.watch as Watch).forcedOut = new Set(out.map((h) => h.id));
      this.forcedExclusions += out.length;
      if (out.length > 0) {
        this.trace.push(`${this.now} ${c.id} leaves ${out.map((h) => h.id).join(',')} out of the quorum`);
        this.refreshMembers(c);
      }
    }
    for (const h of reachable)
      this.send({ kind: 'hello', from: h.id, to: c.id, epoch, dataEpoch: dataEpoch(h), gen: lastGen(h) });
  }

  /** An unforced promotion the rules refused: count it if it kept an acknowledged write. */
  private refused(c: Host): void {
    const lacking = [...this.acked.keys()].filter((w) => !holds(c, w));
    if (lacking.length === 0) return;
    this.refusedLacking++;
    if (lacking.some((w) => this.degradedWrites.has(w))) this.refusedLackingDegraded++;
  }

  /** Members heartbeat every master they can see, every interval of their own clock. */
  private heartbeats(): void {
    for (const h of this.hosts) {
      if (!this.up(h) || h.master !== undefined) continue;
      const t = this.mono(h);
      if (t < h.nextHeartbeatMs) continue;
      // Keep the average rate on the host's clock; after a freeze, restart the rhythm from now.
      h.nextHeartbeatMs += LIVENESS.heartbeatIntervalMs;
      if (h.nextHeartbeatMs <= t) h.nextHeartbeatMs = t + LIVENESS.heartbeatIntervalMs;
      for (const o of this.hosts)
        if (o !== h && o.master !== undefined)
          this.send({
            kind: 'heartbeat',
            from: h.id,
            to: o.id,
            epoch: h.adoptedEpoch,
            sentAtMs: this.wall(h),
          });
    }
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
    for (const m of this.hosts) if (m.watch !== undefined && this.up(m)) this.checkLiveness(m);
  }

  /**
   * On the master's own clock: a member heard from within deadAfterMs (and not shut down since) is
   * live, and a member down since S is dead by S + deadAfterMs + heartbeatIntervalMs + the longest
   * network delay (counted from the takeover if the master is newer than S).
   */
  private checkLiveness(m: Host): void {
    const w = m.watch as Watch;
    const t = this.mono(m);
    for (const [id, heard] of w.heardMs) {
      if ((w.byeMs.get(id) ?? -Infinity) >= heard) continue;
      if (t - heard <= LIVENESS.deadAfterMs && !w.liveness.isLive(id))
        this.fail(`${m.id} reports ${id} dead ${Math.round(t - heard)} ms after hearing from it`);
    }
    const maxDelayMs = MAX_DELAY_STEPS * STEP_MS * (1 + m.clock.drift);
    for (const h of this.hosts) {
      if (h === m || h.downSinceMs === undefined) continue;
      const from = Math.max(this.mono(m, h.downSinceMs), w.sinceMs);
      const late = t - (from + LIVENESS.deadAfterMs + LIVENESS.heartbeatIntervalMs + maxDelayMs);
      if (late > 0 && w.liveness.isLive(h.id))
        this.fail(`${m.id} still reports ${h.id} live ${Math.round(late)} ms past the detection bound`);
    }
  }

  private step(): void {
    const r = this.rng.next();
    const h = this.pick(this.hosts);
    if (r < 0.45) this.write();
    else if (r < 0.5) {
      // Some stops are clean: the host first tells the masters (xapi's "shutting-down" heartbeat).
      const clean = this.up(h) && h.master === undefined && this.rng.next() < 0.3;
      if (clean)
        for (const o of this.hosts)
          if (o !== h && o.master !== undefined) this.send({ kind: 'bye', from: h.id, to: o.id });
      h.alive = false;
      this.dropMaster(h);
      this.trace.push(`${this.now} ${h.id} ${clean ? 'shuts down' : 'crashes'}`);
    } else if (r < 0.56 && !h.alive) {
      h.alive = true;
      h.frozen = false; // a restart is a fresh process, whatever happened to the old one
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
    } else if (r < 0.6) {
      h.frozen = !h.frozen;
      this.trace.push(`${this.now} ${h.id} ${h.frozen ? 'freezes' : 'thaws'}`);
    } else if (r < 0.64) {
      const o = this.pick(this.hosts);
      if (o !== h) this.cut.add(`${h.id}|${o.id}`);
    } else if (r < 0.68) this.cut.clear();
    else if (r < 0.71) this.promote(h, this.rng.next() < 0.15);
    for (const x of this.hosts) {
      if (this.up(x)) x.downSinceMs = undefined;
      else x.downSinceMs ??= this.now * STEP_MS;
    }
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
    this.heartbeats();
    // Masters check for silent members every step (more often than the heartbeat interval).
    for (const m of this.hosts)
      if (m.watch !== undefined && this.up(m)) {
        this.onLiveness(m, m.watch.liveness.tick(this.mono(m)));
        this.probe(m);
      }
    this.checkInvariants();
    this.now++;
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
      deadReports: this.deadReports,
      liveReports: this.liveReports,
      staleDemotions: this.staleDemotions,
      degradedEntries: this.degradedEntries,
      degradedAcks: this.degradedAcks,
      forcedExclusions: this.forcedExclusions,
      forcedReturns: this.forcedReturns,
      reducedAcks: this.reducedAcks,
      thinAcks: this.thinAcks,
      refusedLacking: this.refusedLacking,
      refusedLackingDegraded: this.refusedLackingDegraded,
      forcedGiveUps: this.forcedGiveUps,
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

function holds(h: Host, write: number): boolean {
  return h.db.some((e) => e.changes.write === write);
}

function lastGen(h: Host): number {
  return h.db.at(-1)?.gen ?? 0;
}

function dataEpoch(h: Host): number {
  return h.db.at(-1)?.epoch ?? 1;
}
