// The master's bookkeeping in the pool database, done as hosts come and go and on every
// heartbeat interval: host_metrics.live as this master observes it, each host's replica_generation
// and replica_lag, and pool.replication_degraded; and the probes of hosts that do not stream from
// this master (a replaced master finds out; a two-host pool whose member is gone goes degraded).
import type { Clock } from '../base/clock.js';
import type { Logger } from '../base/log.js';
import type { Db } from '../db/db.js';
import type { Rec } from '../model/index.js';
import type { Changes, CoordinatorConfig, HostStatus, PoolPosition } from './coordinator-types.js';
import type { Liveness } from './liveness.js';
import type { PeerClient } from './peer.js';
import type { AckMode, MasterReplicator } from './replication.js';

/** What the bookkeeping needs from the coordinator. */
export interface MasterUpkeepDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly log: Logger;
  readonly config: CoordinatorConfig;
  readonly peers: PeerClient;
  readonly position: PoolPosition;
  hostRef(): string;
  isMaster(): boolean;
  /** True while pool.designate_new_master hands over: bookkeeping writes wait. */
  handingOver(): boolean;
  replicator(): MasterReplicator<Changes> | undefined;
  liveness(): Liveness | undefined;
  /** True when `host` streams from this master now. */
  streaming(host: string): boolean;
  otherHosts(): { ref: string; rec: Rec<'host'> }[];
  mode(): AckMode;
  poolRec(): Rec<'pool'> | undefined;
  poolRef(): string;
  /** True when a forced promotion left some host out of the quorum. */
  forcedOut(): boolean;
  /** The quorum's members are recomputed (degraded mode changed). */
  refreshMembers(): void;
  discover(): Promise<void>;
  /** This host's own lease report, as the master reports it every tick. */
  reportOwnLeases(): void;
}

export class MasterUpkeep {
  /** A two-host pool acknowledging writes on the master alone (its member is gone). */
  private degradedNow = false;
  /** When each entry not yet held by every host was committed (for replica_lag). */
  private readonly commitTimes = new Map<number, number>();
  private lastProbeAt = 0;

  constructor(private readonly d: MasterUpkeepDeps) {}

  get degraded(): boolean {
    return this.degradedNow;
  }

  /** Leaves degraded mode without a word (this host is no longer master). */
  clearDegraded(): void {
    this.degradedNow = false;
  }

  /** The hosts that do not stream from this master are asked on the next tick. */
  probeSoon(): void {
    this.lastProbeAt = 0;
  }

  committed(gen: number): void {
    this.commitTimes.set(gen, this.d.clock.monotonic());
    // Bounded like the log: a member down for long shows the age of the oldest time kept.
    if (this.commitTimes.size > this.d.config.logMax) {
      const oldest = this.commitTimes.keys().next().value;
      if (oldest !== undefined) this.commitTimes.delete(oldest);
    }
  }

  /** Every host holds everything up to `upTo`. */
  acknowledged(upTo: number): void {
    for (const g of this.commitTimes.keys()) if (g <= upTo) this.commitTimes.delete(g);
  }

  /** The master's heartbeat-interval work (after pinging the members). */
  tick(now: number): void {
    this.d.liveness()?.tick(now);
    this.syncLiveFlags();
    this.updateReplicaStatus(now);
    this.d.reportOwnLeases();
    const disconnected = this.d.otherHosts().filter((h) => !this.d.streaming(h.ref));
    if (disconnected.length > 0 && now - this.lastProbeAt >= this.d.config.heartbeatIntervalMs * 2) {
      this.lastProbeAt = now;
      void this.probeAbsent(disconnected.map((h) => h.ref));
    }
  }

  /**
   * Asks hosts that do not stream from this master what they know: one that follows a newer epoch
   * means this master was replaced. In a two-host pool, a member that cannot be reached at all
   * puts the pool in degraded mode (writes acknowledged by this host alone, shown in
   * pool.replication_degraded) rather than stopping every write; it leaves that mode when the
   * member is back.
   */
  private async probeAbsent(hosts: string[]): Promise<void> {
    const answers = await Promise.all(
      hosts.map(async (h) => {
        const rec = this.d.db.get('host', h) as Rec<'host'> | undefined;
        if (rec === undefined) return undefined;
        return this.d.peers
          .call<HostStatus>(rec.address, 'status', {}, this.d.config.peerTimeoutMs)
          .catch(() => undefined);
      }),
    );
    if (!this.d.isMaster()) return;
    if (answers.some((a) => a !== undefined && a.epoch > this.d.position.epoch)) {
      await this.d.discover();
      return;
    }
    const twoHosts = this.d.db.count('host') === 2 && this.d.mode() === 'majority';
    const unreachable = answers.every((a) => a === undefined);
    const other = hosts[0];
    const dead = other !== undefined && this.d.liveness()?.isLive(other) === false;
    this.setDegraded(twoHosts && unreachable && dead);
  }

  private setDegraded(on: boolean): void {
    if (on === this.degradedNow) return;
    this.degradedNow = on;
    this.d.log.warn(
      { degraded: on },
      on ? 'two-host pool degraded: acknowledging writes alone' : 'degraded mode over',
    );
    this.d.refreshMembers();
    this.showDegraded();
  }

  /** pool.replication_degraded: some host is left out of the quorum. */
  showDegraded(): void {
    const on = this.degradedNow || this.d.forcedOut();
    if (this.d.poolRec()?.replication_degraded !== on)
      this.safeWrite((tx) => tx.update('pool', this.d.poolRef(), { replication_degraded: on }));
  }

  /**
   * Liveness events (a heartbeat after silence, a goodbye, silence past the threshold) are
   * written to host_metrics.live at once; syncLiveFlags also mends any host whose stored flag
   * disagrees with what this master observes (a new master inherits the old one's flags).
   */
  markLive(changes: readonly { host: string; live: boolean }[]): void {
    if (changes.length > 0) this.syncLiveFlags();
  }

  private syncLiveFlags(): void {
    const l = this.d.liveness();
    if (l === undefined || !this.d.isMaster()) return;
    const self = this.d.hostRef();
    const wrong: { metrics: string; host: string; live: boolean }[] = [];
    for (const r of this.d.db.all('host').values()) {
      const h = r.rec as Rec<'host'>;
      const m = this.d.db.get('host_metrics', h.metrics) as Rec<'host_metrics'> | undefined;
      const live = r.ref === self || l.isLive(r.ref);
      if (m !== undefined && m.live !== live) wrong.push({ metrics: h.metrics, host: r.ref, live });
    }
    if (wrong.length > 0) {
      for (const w of wrong) this.d.log.info({ host: w.host, live: w.live }, 'host liveness changed');
      this.safeWrite((tx) => {
        for (const w of wrong) tx.update('host_metrics', w.metrics, { live: w.live });
      });
    }
    // A host that comes back ends degraded mode at once.
    if (this.degradedNow && this.d.otherHosts().some((h) => l.isLive(h.ref))) this.setDegraded(false);
  }

  private updateReplicaStatus(now: number): void {
    const r = this.d.replicator();
    // A one-host pool has no replicas to report (and refreshing its own would be a write per tick).
    if (r === undefined || this.d.db.count('host') < 2) return;
    const head = r.headGen;
    const oldestUnacked = (matchGen: number): number => {
      let t: number | undefined;
      for (const [g, at] of this.commitTimes) if (g > matchGen && (t === undefined || at < t)) t = at;
      return t === undefined ? 0 : Math.max(0, now - t) / 1000;
    };
    this.safeWrite((tx) => {
      for (const h of this.d.db.all('host').values()) {
        const rec = h.rec as Rec<'host'>;
        const gen = h.ref === this.d.hostRef() ? head : (r.progress(h.ref)?.matchGen ?? 0);
        const lag = h.ref === this.d.hostRef() ? 0 : oldestUnacked(gen);
        if (rec.replica_generation !== gen || Math.abs(rec.replica_lag - lag) >= 0.5)
          tx.update('host', h.ref, { replica_generation: gen, replica_lag: Math.round(lag * 10) / 10 });
      }
    });
    // Commit times are only needed for entries some host has not confirmed yet.
    let minMatch = head;
    for (const h of this.d.db.all('host').keys())
      if (h !== this.d.hostRef()) minMatch = Math.min(minMatch, r.progress(h)?.matchGen ?? 0);
    for (const g of this.commitTimes.keys()) if (g <= minMatch) this.commitTimes.delete(g);
  }

  /** Internal bookkeeping writes never fail the caller: they are retried on the next tick. */
  private safeWrite(fn: (tx: Parameters<Parameters<Db['transact']>[0]>[0]) => void): void {
    if (!this.d.isMaster() || this.d.handingOver()) return;
    try {
      this.d.db.transact(fn);
    } catch (e) {
      this.d.log.warn({ err: String(e) }, 'bookkeeping write failed');
    }
  }
}
