// The pool role of this host, wired to the network: as master it streams every commit to the
// members and acknowledges a write once a quorum holds it; as member it applies the master's
// entries and acknowledges them. Role changes (join, promotion, designate, recover, eject) happen
// in-process. The decisions themselves are the pure state machines of replication.ts and
// liveness.ts; this file only moves their inputs and outputs between sockets, the DB and timers.
// See docs/replication.md. This file holds the role and its changes; the parts it wires:
//   master-streams.ts  the master's side of the members' replication streams;
//   master-upkeep.ts   the master's bookkeeping (liveness flags, replica lag, degraded mode);
//   member-link.ts     a member's stream to its master;
//   peer-requests.ts   the peer ops other hosts ask of this one (status, vote, follow, …).
import type http from 'node:http';
import type { Clock, Random } from '../base/clock.js';
import type { Logger } from '../base/log.js';
import type { Db, RowChange } from '../db/db.js';
import { ApiError } from '../model/errors.js';
import type { Rec } from '../model/index.js';
import { NULL_REF } from '../model/types.js';
import {
  fromPeer,
  K,
  positionMeta,
  type AgentResult,
  type Changes,
  type CoordinatorConfig,
  type HostStatus,
  type LocalKeys,
  type PoolPosition,
} from './coordinator-types.js';
import { Liveness } from './liveness.js';
import { servePeer, type PeerOps } from './peer-requests.js';
import { MasterStreams } from './master-streams.js';
import { MasterUpkeep } from './master-upkeep.js';
import { MemberLink } from './member-link.js';
import { hasPoolSecret, PEER_PATH, PeerClient, PeerError, sendJson, STREAM_PATH } from './peer.js';
import {
  checkPromotion,
  EPOCH_SLOTS,
  MasterReplicator,
  MemberReplica,
  nextEpoch,
  type AckMode,
  type EpochStart,
  type MasterAction,
} from './replication.js';

export { defaultCoordinatorConfig } from './coordinator-types.js';
export type { AgentResult, CoordinatorConfig, HostStatus, LocalKeys } from './coordinator-types.js';

export interface CoordinatorDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  readonly local: LocalKeys;
  /** This host's ref in the pool database (changes when an ejected host starts afresh). */
  hostRef(): string;
  /** How other hosts reach this one (host.address): an IP, or IP:port off the pool's port. */
  readonly selfAddress: string;
  /** The pool's API port (peers without an explicit port listen on it). */
  readonly port: number;
  /** This host's TLS certificate (PEM). */
  readonly certificate: string;
  readonly config: CoordinatorConfig;
  /** Ejection: wipe the pool database and start again as a new one-host pool. */
  resetToStandalone(): Promise<void>;
  /** On the master: a member has (re)connected; its domains and the database are made to agree. */
  memberConnected(host: string): Promise<void>;
  /** Runs a hypervisor or storage call the master sent to this host (the host agent). */
  agent(call: string, args: unknown[]): Promise<AgentResult>;
  /** This host's disk leases as it reports them with its heartbeats (impl/host/leases.ts). */
  leaseReport?(): unknown;
  /** On the master: a host's lease report (its own included, every tick). */
  leasesReported?(host: string, report: unknown): void;
  /** This host has just become the pool's master (a promotion or a planned change). */
  becameMaster?(): void;
}

/** A driver call on a member (a VM boot, a disk copy) may take this long. */
const AGENT_TIMEOUT_MS = 10 * 60 * 1000;

interface AckWaiter {
  readonly gen: number;
  resolve(): void;
  reject(e: unknown): void;
}

export class PoolCoordinator {
  readonly peers: PeerClient;
  private role: 'master' | 'member';
  private readonly pos: PoolPosition;
  // master state
  private replicator: MasterReplicator<Changes> | undefined;
  private readonly streams: MasterStreams;
  private readonly upkeep: MasterUpkeep;
  private liveness: Liveness | undefined;
  private ackWaiters: AckWaiter[] = [];
  private handover: Promise<void> | undefined;
  /** Hosts a forced promotion could not reach: out of the quorum until they are back. */
  private forcedOut = new Set<string>();
  /** Joined hosts that do not hold the pool's database yet: they count in the quorum once they do. */
  private learners = new Set<string>();
  // member state
  private replica: MemberReplica | undefined;
  private readonly link: MemberLink;
  private discovering = false;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private stopped = false;

  constructor(private readonly d: CoordinatorDeps) {
    this.peers = new PeerClient({ secret: () => this.secret(), trusted: () => this.trustedCerts() }, d.port);
    this.role = d.local.get(K.role) === 'member' ? 'member' : 'master';
    this.pos = {
      epoch: Number(d.local.get(K.epoch) ?? '0'),
      starts: JSON.parse(d.local.get(K.starts) ?? '[]') as EpochStart[],
      masterAddr: d.local.get(K.master) ?? d.selfAddress,
    };
    this.link = new MemberLink({
      db: d.db,
      clock: d.clock,
      log: d.log,
      config: d.config,
      peers: this.peers,
      hostRef: () => d.hostRef(),
      selfAddress: d.selfAddress,
      position: this.pos,
      replica: () => this.replica,
      following: () => !this.stopped && this.role === 'member',
      discover: () => void this.discover(),
      leaseReport: () => d.leaseReport?.(),
    });
    this.streams = new MasterStreams({
      db: d.db,
      clock: d.clock,
      log: d.log,
      position: this.pos,
      isMaster: () => this.role === 'master',
      replicator: () => this.replicator,
      liveness: () => this.liveness,
      act: (actions) => this.act(actions),
      markLive: (changes) => this.upkeep.markLive(changes),
      newerEpoch: () => {
        this.upkeep.probeSoon();
        void this.discover();
      },
      rejoined: (host) => this.rejoined(host),
      holdsDatabase: (host) => this.holdsDatabase(host),
      memberConnected: (host) => d.memberConnected(host),
      leasesReported: (host, report) => d.leasesReported?.(host, report),
    });
    this.upkeep = new MasterUpkeep({
      db: d.db,
      clock: d.clock,
      log: d.log,
      config: d.config,
      peers: this.peers,
      position: this.pos,
      hostRef: () => d.hostRef(),
      isMaster: () => this.role === 'master',
      handingOver: () => this.handover !== undefined,
      replicator: () => this.replicator,
      liveness: () => this.liveness,
      streaming: (host) => this.streams.has(host),
      otherHosts: () => this.otherHosts(),
      mode: () => this.mode(),
      poolRec: () => this.poolRec(),
      poolRef: () => this.poolRef(),
      forcedOut: () => this.forcedOut.size > 0,
      refreshMembers: () => this.act(this.refreshMembers()),
      discover: () => this.discover(),
      reportOwnLeases: () => d.leasesReported?.(d.hostRef(), d.leaseReport?.()),
    });
    d.db.onReplicatedCommit((gen, rows) => this.onCommit(gen, rows));
  }

  // ---- identity and state ------------------------------------------------------------------

  get isMaster(): boolean {
    return this.role === 'master';
  }

  /** The address of the master this host follows (HOST_IS_SLAVE's parameter). */
  get masterAddress(): string {
    return this.role === 'master' ? this.d.selfAddress : this.pos.masterAddr;
  }

  /** A member that has no working connection to its master (xapi's emergency mode). */
  get inEmergencyMode(): boolean {
    return this.role === 'member' && !this.link.connected;
  }

  /** The pool's API port: peers whose address names no port listen on it. */
  get port(): number {
    return this.d.port;
  }

  get currentEpoch(): number {
    return this.pos.epoch;
  }

  secret(): string {
    return this.d.local.get(K.secret) ?? '';
  }

  private trustedCerts(): string[] {
    const out: string[] = [];
    for (const r of this.d.db.all('host').values()) {
      const pem = (r.rec as Rec<'host'>).server_certificate;
      if (pem !== '') out.push(pem);
    }
    const extra = this.d.local.get('pool_master_certificate');
    if (extra !== undefined && extra !== '') out.push(extra);
    return out;
  }

  private dataEpoch(): number {
    return Number(this.d.local.get(K.appliedEpoch) ?? String(this.pos.epoch));
  }

  private selfHost(): Rec<'host'> | undefined {
    return this.d.db.get('host', this.d.hostRef()) as Rec<'host'> | undefined;
  }

  /** Liveness is about the other hosts: a master is live to itself. */
  private others(hosts: readonly string[]): string[] {
    return hosts.filter((h) => h !== this.d.hostRef());
  }

  private otherHosts(): { ref: string; rec: Rec<'host'> }[] {
    const out: { ref: string; rec: Rec<'host'> }[] = [];
    for (const r of this.d.db.all('host').values())
      if (r.ref !== this.d.hostRef()) out.push({ ref: r.ref, rec: r.rec as Rec<'host'> });
    return out;
  }

  status(): HostStatus {
    const self = this.selfHost();
    return {
      host: this.d.hostRef(),
      uuid: self?.uuid ?? '',
      role: this.role,
      epoch: this.pos.epoch,
      dataEpoch: this.role === 'master' ? this.pos.epoch : (this.replica?.appliedEpoch ?? this.dataEpoch()),
      gen: this.role === 'master' ? (this.replicator?.headGen ?? this.d.db.appliedGen) : this.d.db.appliedGen,
      master: this.masterAddress,
    };
  }

  private persist(extra: Record<string, string> = {}): void {
    const kv: Record<string, string> = {
      [K.role]: this.role,
      [K.master]: this.pos.masterAddr,
      [K.epoch]: String(this.pos.epoch),
      [K.starts]: JSON.stringify(this.pos.starts),
      ...extra,
    };
    for (const [k, v] of Object.entries(kv)) this.d.local.put(k, v);
  }

  // ---- start and stop ----------------------------------------------------------------------

  /** Starts in the role the local state records. A fresh host is the master of a one-host pool. */
  start(): void {
    if (this.pos.epoch === 0) this.initStandalone();
    if (this.role === 'master') this.startMaster();
    else this.startMember();
    if (this.ticker === undefined) {
      this.ticker = setInterval(() => this.tick(), this.d.config.heartbeatIntervalMs);
      this.ticker.unref();
    }
  }

  /** A one-host pool: the first epoch of slot 0 and a fresh pool secret. */
  private initStandalone(): void {
    this.pos.epoch = nextEpoch([], 0);
    this.pos.starts = [{ epoch: this.pos.epoch, startGen: 1 }];
    this.role = 'master';
    this.pos.masterAddr = this.d.selfAddress;
    this.persist({
      [K.appliedEpoch]: String(this.pos.epoch),
      [K.secret]: Buffer.from(this.d.random.bytes(24)).toString('hex'),
      pool_master_certificate: '',
    });
  }

  /** Stops streaming. A member tells its master it is shutting down, so it is marked dead at once. */
  stop(): void {
    this.stopped = true;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.link.stop();
    this.streams.endAll();
    this.failAckWaiters();
    this.peers.close();
  }

  private startMaster(): void {
    const db = this.d.db;
    db.setReplica(false);
    const hosts = [...db.all('host').keys()];
    this.replicator = new MasterReplicator<Changes>(
      this.d.hostRef(),
      this.pos.epoch,
      db.appliedGen,
      this.dataEpoch(),
      hosts,
      this.mode(),
      this.d.config.logMax,
    );
    this.liveness = new Liveness(this.d.config, this.others(hosts), this.d.clock.monotonic());
    this.replica = undefined;
    this.link.detach();
    // Hosts left out before a restart stay out until they stream again.
    const left = JSON.parse(this.d.local.get(K.leftOut) ?? '[]') as string[];
    this.forcedOut = new Set(left.filter((h) => hosts.includes(h)));
    if (this.forcedOut.size > 0) {
      this.act(this.refreshMembers());
      this.upkeep.showDegraded();
    }
    // A master that restarts may have been replaced meanwhile: ask the others before long.
    this.upkeep.probeSoon();
  }

  /** Sets the hosts left out of the quorum, durably, so a restart keeps them out. */
  private setLeftOut(hosts: Iterable<string>): void {
    this.forcedOut = new Set(hosts);
    this.d.local.put(K.leftOut, JSON.stringify([...this.forcedOut]));
  }

  private startMember(): void {
    this.d.db.setReplica(true, this.d.db.appliedGen);
    this.replicator = undefined;
    this.liveness = undefined;
    this.upkeep.clearDegraded();
    this.setLeftOut([]);
    this.replica = new MemberReplica(this.pos.epoch, this.d.db.appliedGen, this.dataEpoch());
    this.link.connect();
  }

  private mode(): AckMode {
    const pool = this.poolRec();
    const m = pool?.replication_mode;
    return m === 'all' || m === 'async' ? m : 'majority';
  }

  private poolRec(): Rec<'pool'> | undefined {
    for (const r of this.d.db.all('pool').values()) return r.rec as Rec<'pool'>;
    return undefined;
  }

  private poolRef(): string {
    for (const r of this.d.db.all('pool').keys()) return r;
    return NULL_REF;
  }

  // ---- master: commits, acknowledgements, writes ---------------------------------------------

  private onCommit(gen: number, rows: Changes): void {
    const r = this.replicator;
    if (r === undefined || this.role !== 'master') return;
    this.upkeep.committed(gen);
    const actions = r.commit(gen, rows);
    if (rows.some((c) => c.cls === 'host' || c.cls === 'pool')) {
      actions.push(...r.setMode(this.mode()));
      actions.push(...this.refreshMembers());
    }
    this.act(actions);
  }

  private refreshMembers(): MasterAction<Changes>[] {
    const r = this.replicator;
    if (r === undefined) return [];
    const hosts = [...this.d.db.all('host').keys()];
    this.liveness?.setHosts(this.others(hosts), this.d.clock.monotonic());
    this.streams.keepOnly(hosts);
    const excluded = new Set([...this.forcedOut, ...this.learners].filter((h) => hosts.includes(h)));
    if (this.upkeep.degraded) for (const h of hosts) if (h !== this.d.hostRef()) excluded.add(h);
    return r.setMembers(hosts, excluded);
  }

  /** A member streams again: a host a forced promotion left out is back in the quorum. */
  private rejoined(host: string): void {
    if (this.forcedOut.has(host)) {
      this.setLeftOut([...this.forcedOut].filter((h) => h !== host));
      this.d.log.warn({ host }, 'a host left out of the quorum is back in it');
      this.act(this.refreshMembers());
      this.upkeep.showDegraded();
    }
  }

  /** A member holds the pool's database: a joined host now counts in the quorum. */
  private holdsDatabase(host: string): void {
    if (this.learners.delete(host)) this.act(this.refreshMembers());
  }

  private act(actions: readonly MasterAction<Changes>[]): void {
    for (const a of actions) {
      if (a.kind === 'send') this.streams.send(a.to, a.entries);
      else if (a.kind === 'snapshot') void this.streams.sendSnapshot(a.to);
      else this.acknowledged(a.upToGen);
    }
  }

  private acknowledged(upTo: number): void {
    const keep: AckWaiter[] = [];
    for (const w of this.ackWaiters) {
      if (w.gen <= upTo) w.resolve();
      else keep.push(w);
    }
    this.ackWaiters = keep;
    this.upkeep.acknowledged(upTo);
  }

  private failAckWaiters(): void {
    const waiters = this.ackWaiters;
    this.ackWaiters = [];
    for (const w of waiters) w.reject(this.notConfirmed());
  }

  private notConfirmed(): ApiError {
    const q = this.replicator?.quorum();
    return new ApiError('POOL_WRITE_NOT_CONFIRMED', [
      this.mode(),
      String(q?.needed ?? 0),
      String(q?.holding ?? 0),
    ]);
  }

  /**
   * Called before a call that may write: waits out a change of master, refuses on a member,
   * and refuses while too few hosts are connected for the write to be confirmed.
   */
  async beforeWrite(): Promise<void> {
    while (this.handover !== undefined) await this.handover;
    if (this.role !== 'master') throw new ApiError('HOST_IS_SLAVE', [this.pos.masterAddr]);
    const q = this.replicator?.quorum();
    if (q !== undefined && q.connected < q.needed)
      throw new ApiError('POOL_QUORUM_UNREACHABLE', [String(q.needed), String(q.connected)]);
  }

  /** Called after a call that wrote: resolves once a quorum holds everything committed so far. */
  afterWrite(): Promise<void> {
    const r = this.replicator;
    if (r === undefined || this.role !== 'master') return Promise.resolve();
    const gen = r.headGen;
    if (r.acknowledgedGen >= gen) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = this.d.clock.setTimeout(() => {
        this.ackWaiters = this.ackWaiters.filter((w) => w !== waiter);
        reject(this.notConfirmed());
      }, this.d.config.ackTimeoutMs);
      const waiter: AckWaiter = {
        gen,
        resolve: () => {
          this.d.clock.clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          this.d.clock.clearTimeout(timer);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      };
      this.ackWaiters.push(waiter);
    });
  }

  // ---- the pool's own HTTP traffic ------------------------------------------------------------

  /** HTTP routes for the pool's own traffic; false when the request is not ours. */
  route(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const path = (req.url ?? '').split('?')[0];
    if (path !== STREAM_PATH && path !== PEER_PATH) return false;
    if (req.method !== 'POST' || !hasPoolSecret(req, this.secret())) {
      sendJson(res, 403, { ok: false, error: ['SESSION_AUTHENTICATION_FAILED', '', 'pool secret'] });
      req.resume();
      return true;
    }
    if (path === STREAM_PATH) this.streams.serve(req, res);
    else void servePeer(req, res, this.peerOps);
    return true;
  }

  // ---- role changes ---------------------------------------------------------------------------

  /**
   * Asks every host of the pool who is master. A host that finds a master of a newer epoch than
   * its own (or of its own epoch, when it is a member) follows it; this is how members that were
   * down, and a master that was replaced, rejoin by themselves.
   */
  async discover(): Promise<void> {
    if (this.discovering || this.stopped) return;
    this.discovering = true;
    try {
      const answers = await Promise.all(
        this.otherHosts().map((h) =>
          this.peers
            .call<HostStatus>(h.rec.address, 'status', {}, this.d.config.peerTimeoutMs)
            .then((s) => ({ s, address: h.rec.address }))
            .catch(() => undefined),
        ),
      );
      let best: { s: HostStatus; address: string } | undefined;
      for (const a of answers)
        if (a !== undefined && a.s.role === 'master' && (best === undefined || a.s.epoch > best.s.epoch))
          best = a;
      const newest = Math.max(0, ...answers.map((a) => a?.s.epoch ?? 0));
      if (best !== undefined) {
        const newer =
          best.s.epoch > this.pos.epoch || (this.role === 'member' && best.s.epoch === this.pos.epoch);
        if (newer && best.address !== this.masterAddress) {
          this.d.log.warn(
            { master: best.address, epoch: best.s.epoch },
            'following the master of the newest epoch',
          );
          this.follow(best.address, best.s.epoch);
        }
      } else if (this.role === 'master' && newest > this.pos.epoch) {
        // Replaced, but the new master does not answer: stop acknowledging anything, and follow
        // the master the host of the newest epoch names.
        const witness = answers.find((x) => x !== undefined && x.s.epoch === newest);
        const master = witness?.s.master ?? '';
        this.adopt(newest, master !== '' && master !== this.d.selfAddress ? master : witness?.address);
      }
    } finally {
      this.discovering = false;
    }
  }

  /** Raises the epoch this host follows. A master that learns of a newer epoch steps down. */
  private adopt(epoch: number, candidate?: string): void {
    if (epoch <= this.pos.epoch) return;
    this.pos.epoch = epoch;
    if (this.role === 'master') this.demote(candidate ?? this.d.selfAddress);
    else if (candidate !== undefined) this.pos.masterAddr = candidate;
    if (this.replica !== undefined) this.replica.epoch = Math.max(this.replica.epoch, epoch);
    this.persist();
  }

  private demote(master: string): void {
    this.d.log.warn({ master, epoch: this.pos.epoch }, 'stepping down: this host is now a member');
    this.role = 'member';
    this.pos.masterAddr = master;
    this.streams.refuseAll(master);
    this.failAckWaiters();
    this.persist();
    this.startMember();
  }

  /** Follows the master at `address` (recover-slaves, emergency-reset-master, discovery). */
  follow(address: string, epoch: number): void {
    if (epoch < this.pos.epoch)
      throw new ApiError('POOL_EPOCH_STALE', [String(epoch), String(this.pos.epoch)]);
    if (address === this.d.selfAddress) {
      if (this.role === 'master') return;
      throw new ApiError('HOST_ITS_OWN_SLAVE', []);
    }
    this.pos.epoch = Math.max(this.pos.epoch, epoch);
    if (this.role === 'master') {
      this.demote(address);
      return;
    }
    this.pos.masterAddr = address;
    this.persist();
    if (this.replica !== undefined) this.replica.epoch = Math.max(this.replica.epoch, this.pos.epoch);
    this.link.connectAfresh();
  }

  /**
   * Makes this host the master (pool-emergency-transition-to-master). Without `force` it refuses
   * while the master answers, and otherwise makes a majority of the pool adopt a new epoch (so
   * the old master can never again gather a quorum) and refuses if any of them holds newer data.
   */
  async promote(force: boolean, designated = false, expect?: { epoch: number; gen: number }): Promise<void> {
    if (this.role === 'master') return;
    const me = this.status();
    if (
      expect !== undefined &&
      (me.dataEpoch < expect.epoch || (me.dataEpoch === expect.epoch && me.gen < expect.gen))
    )
      throw new ApiError('HA_ABORT_NEW_MASTER', [`this host holds generation ${me.gen}, not ${expect.gen}`]);
    if (!force && !designated) {
      const answer = await this.peers
        .call<HostStatus>(this.pos.masterAddr, 'status', {}, this.d.config.peerTimeoutMs)
        .catch(() => undefined);
      if (answer !== undefined && answer.role === 'master' && answer.epoch >= this.pos.epoch)
        throw new ApiError('MASTER_STILL_ANSWERS', [this.pos.masterAddr]);
    }
    const others = this.otherHosts();
    const slot = this.selfHost()?.epoch_slot ?? 0;
    const probes = await Promise.all(
      others.map((h) =>
        this.peers
          .call<HostStatus>(h.rec.address, 'status', {}, this.d.config.peerTimeoutMs)
          .catch(() => undefined),
      ),
    );
    const epoch = nextEpoch([this.pos.epoch, ...probes.map((p) => p?.epoch ?? 0)], slot);
    if (!force) {
      const votes = await Promise.all(
        others.map((h) =>
          this.peers
            .call<HostStatus>(
              h.rec.address,
              'vote',
              { epoch, candidate: this.d.selfAddress },
              this.d.config.peerTimeoutMs,
            )
            .catch(() => undefined),
        ),
      );
      const adopted = votes.filter((v): v is HostStatus => v !== undefined && v.epoch === epoch);
      const needed = Math.floor((others.length + 1) / 2) + 1;
      if (adopted.length + 1 < needed)
        throw new ApiError('POOL_QUORUM_UNREACHABLE', [String(needed), String(adopted.length + 1)]);
      const check = checkPromotion(
        { id: me.uuid, epoch: me.dataEpoch, gen: me.gen },
        false,
        adopted.map((v) => ({ id: v.uuid, epoch: v.dataEpoch, gen: v.gen })),
      );
      if (!check.ok) {
        const newer = adopted.find(
          (v) => v.dataEpoch > me.dataEpoch || (v.dataEpoch === me.dataEpoch && v.gen > me.gen),
        );
        throw new ApiError('HOST_HOLDS_NEWER_DATABASE', [
          newer?.uuid ?? '',
          String(newer?.dataEpoch ?? 0),
          String(newer?.gen ?? 0),
        ]);
      }
    }
    this.becomeMaster(epoch);
    if (force) {
      // The operator accepted the risk: hosts that could not be reached do not hold up writes
      // until they come back (shown as pool.replication_degraded).
      this.setLeftOut(others.filter((_, i) => probes[i] === undefined).map((h) => h.ref));
      this.act(this.refreshMembers());
      this.upkeep.showDegraded();
    }
  }

  /**
   * After a pool database restore (impl/pool/restore.ts): this host is the master of the restored
   * pool at an epoch above the dump's and its own, so hosts of the old pool that come back follow
   * it. The other hosts are left out of the quorum (durably) until they stream again.
   */
  becomeRestoredMaster(awaitingRejoin: readonly string[], minEpoch: number): void {
    const epoch = nextEpoch([this.pos.epoch, minEpoch], this.selfHost()?.epoch_slot ?? 0);
    this.becomeMaster(epoch, false);
    this.setLeftOut(awaitingRejoin);
    // They are not here: dead at once, not after the grace a new master gives its members.
    const now = this.d.clock.monotonic();
    for (const h of awaitingRejoin) this.upkeep.markLive(this.liveness?.shuttingDown(h, now) ?? []);
    this.act(this.refreshMembers());
    this.upkeep.showDegraded();
  }

  private becomeMaster(epoch: number, notify = true): void {
    this.link.detach();
    const db = this.d.db;
    const appliedGen = db.appliedGen;
    const oldDataEpoch = this.replica?.appliedEpoch ?? this.dataEpoch();
    this.pos.epoch = epoch;
    this.pos.starts = [...this.pos.starts, { epoch, startGen: appliedGen + 1 }];
    this.role = 'master';
    this.pos.masterAddr = this.d.selfAddress;
    db.setReplica(false);
    const hosts = [...db.all('host').keys()];
    this.replicator = new MasterReplicator<Changes>(
      this.d.hostRef(),
      epoch,
      appliedGen,
      oldDataEpoch,
      hosts,
      this.mode(),
      this.d.config.logMax,
    );
    this.liveness = new Liveness(this.d.config, this.others(hosts), this.d.clock.monotonic());
    this.replica = undefined;
    this.setLeftOut([]);
    this.learners = new Set();
    // The new epoch's first entry: every host that follows moves past anything of the old one.
    const self = this.d.hostRef();
    const metrics = this.selfHost()?.metrics;
    db.transact(
      (tx) => {
        tx.update('pool', this.poolRef(), { master: self, epoch });
        if (metrics !== undefined && metrics !== NULL_REF) tx.update('host_metrics', metrics, { live: true });
      },
      {
        [K.role]: 'master',
        [K.master]: this.d.selfAddress,
        [K.epoch]: String(epoch),
        [K.appliedEpoch]: String(epoch),
        [K.starts]: JSON.stringify(this.pos.starts),
      },
    );
    this.d.log.warn({ epoch, gen: appliedGen }, 'this host is now the pool master');
    if (notify) this.d.becameMaster?.();
  }

  /** pool.recover_slaves: points every reachable host at this master; returns those that accepted. */
  async recoverSlaves(): Promise<string[]> {
    if (this.role !== 'master') throw new ApiError('HOST_IS_SLAVE', [this.pos.masterAddr]);
    const out = await Promise.all(
      this.otherHosts().map((h) =>
        this.peers
          .call(
            h.rec.address,
            'follow',
            { master: this.d.selfAddress, epoch: this.pos.epoch },
            this.d.config.peerTimeoutMs,
          )
          .then(() => h.ref)
          .catch(() => undefined),
      ),
    );
    return out.filter((r): r is string => r !== undefined);
  }

  /**
   * pool.designate_new_master: writes wait while the target catches up to everything committed,
   * then the target promotes itself (a vote in which this host steps down). If the target fails
   * before any vote reached this host, this host simply carries on as master.
   */
  async designate(target: string): Promise<void> {
    if (target === this.d.hostRef()) return;
    if (this.role !== 'master' || this.replicator === undefined)
      throw new ApiError('HOST_IS_SLAVE', [this.pos.masterAddr]);
    if (this.handover !== undefined)
      throw new ApiError('HA_ABORT_NEW_MASTER', ['another change of coordinator is in progress']);
    const rec = this.d.db.get('host', target) as Rec<'host'> | undefined;
    if (rec === undefined || !this.streams.has(target)) throw new ApiError('HOST_OFFLINE', [target]);
    let release = () => {};
    this.handover = new Promise<void>((resolve) => (release = resolve));
    try {
      const r = this.replicator;
      const head = r.headGen;
      await this.waitUntil(() => (r.progress(target)?.matchGen ?? 0) >= head, this.d.config.ackTimeoutMs);
      if ((r.progress(target)?.matchGen ?? 0) < head)
        throw new ApiError('HA_ABORT_NEW_MASTER', ['the new coordinator did not catch up in time']);
      try {
        await this.peers.call(
          rec.address,
          'promote',
          { epoch: this.pos.epoch, gen: head },
          this.d.config.ackTimeoutMs,
        );
      } catch (e) {
        if (this.role === 'master') {
          const params =
            e instanceof PeerError && e.answered ? [e.code ?? '', ...e.params].join(' ') : String(e);
          throw new ApiError('HA_ABORT_NEW_MASTER', [params]);
        }
        // A vote reached this host, so the target may be master: discovery will tell.
        void this.discover();
      }
      if (this.role === 'master') this.follow(rec.address, this.pos.epoch);
    } finally {
      this.handover = undefined;
      release();
    }
  }

  private async waitUntil(cond: () => boolean, timeoutMs: number): Promise<void> {
    const until = this.d.clock.monotonic() + timeoutMs;
    while (!cond() && this.d.clock.monotonic() < until)
      await new Promise<void>((resolve) => this.d.clock.setTimeout(resolve, 20));
  }

  /** pool.sync_database: resolves once every connected member holds everything committed. */
  async syncDatabase(): Promise<void> {
    const r = this.replicator;
    if (r === undefined || this.role !== 'master') throw new ApiError('HOST_IS_SLAVE', [this.pos.masterAddr]);
    const head = r.headGen;
    const behind = () => this.streams.hosts().filter((h) => (r.progress(h)?.matchGen ?? 0) < head);
    await this.waitUntil(() => behind().length === 0, this.d.config.ackTimeoutMs);
    const late = behind();
    if (late.length > 0) throw new ApiError('CANNOT_CONTACT_HOST', [late[0] ?? '']);
  }

  /** True when `host` (a member) streams from this master right now. */
  isConnected(host: string): boolean {
    return this.role === 'master' && this.streams.has(host);
  }

  /** A driver call on the member at `address` (see impl/host/agent.ts). */
  agent(address: string, call: string, args: unknown[]): Promise<unknown> {
    return this.peers.call(address, 'agent', { call, args }, AGENT_TIMEOUT_MS);
  }

  /** True when `host` answers (used by host-forget and host-declare-dead). */
  async answers(host: string): Promise<boolean> {
    const rec = this.d.db.get('host', host) as Rec<'host'> | undefined;
    if (rec === undefined) return false;
    if (host === this.d.hostRef()) return true;
    return this.peers
      .call(rec.address, 'status', {}, this.d.config.peerTimeoutMs)
      .then(() => true)
      .catch(() => false);
  }

  /** pool.eject on the master: the host starts again as a fresh standalone host. */
  async eject(host: string): Promise<void> {
    const rec = this.d.db.get('host', host) as Rec<'host'> | undefined;
    if (rec === undefined) throw new ApiError('HANDLE_INVALID', ['host', host]);
    await this.peers.call(rec.address, 'eject', {}, this.d.config.ackTimeoutMs).catch((e: unknown) => {
      throw e instanceof PeerError && e.answered ? fromPeer(e) : new ApiError('HOST_OFFLINE', [host]);
    });
  }

  /**
   * The joining host's last step (after pool.join's checks): the master admits its records,
   * then this host wipes its own database and follows the master, which sends it a snapshot.
   */
  async join(master: string, secret: string, masterCert: string, rows: RowChange[]): Promise<void> {
    this.d.local.put(K.secret, secret);
    this.d.local.put('pool_master_certificate', masterCert);
    const self = this.d.hostRef();
    const withCert = rows.map((r) =>
      r.cls === 'host' && r.ref === self && r.body !== null
        ? { ...r, body: { ...r.body, server_certificate: this.d.certificate } }
        : r,
    );
    const joined = await this.peers
      .call<{ epoch: number }>(master, 'admit', { rows: withCert }, this.d.config.ackTimeoutMs)
      .catch((e: unknown) => {
        throw e instanceof PeerError && e.answered
          ? fromPeer(e)
          : new ApiError('JOINING_HOST_CONNECTION_FAILED', []);
      });
    this.replicator = undefined;
    this.liveness = undefined;
    this.role = 'member';
    this.pos.masterAddr = master;
    this.pos.epoch = joined.epoch;
    this.pos.starts = [];
    this.d.db.setReplica(true, 0);
    // Everything this host held is replaced by the pool's database (which now holds its records).
    this.d.db.installSnapshot(0, [], { ...positionMeta(this.pos, 0), [K.role]: 'member' });
    this.persist({ [K.appliedEpoch]: '0' });
    this.replica = new MemberReplica(this.pos.epoch, 0, 0);
    this.link.connectAfresh();
    // pool.join returns once this host holds the pool's database (it keeps trying after that).
    await this.link.connectedWithin(this.d.config.ackTimeoutMs * 4);
  }

  /** The master's side of a join: the joiner's records go in, in one transaction. */
  private admit(rows: RowChange[]): { epoch: number } {
    if (this.role !== 'master') throw new ApiError('HOST_IS_SLAVE', [this.pos.masterAddr]);
    const used = new Set([...this.d.db.all('host').values()].map((r) => (r.rec as Rec<'host'>).epoch_slot));
    let slot = 0;
    while (used.has(slot)) slot++;
    if (slot >= EPOCH_SLOTS) throw new ApiError('OPERATION_NOT_ALLOWED', ['the pool is full']);
    const joiner = rows.find((r) => r.cls === 'host')?.body as Rec<'host'> | undefined;
    for (const h of this.d.db.all('host').values()) {
      const address = (h.rec as Rec<'host'>).address;
      if (joiner !== undefined && address === joiner.address)
        throw new ApiError('OPERATION_NOT_ALLOWED', [
          `host ${(h.rec as Rec<'host'>).name_label} already has the address ${address}: hosts of a pool need distinct addresses (they share one port)`,
        ]);
    }
    const joinerRef = rows.find((r) => r.cls === 'host')?.ref;
    if (joinerRef !== undefined) this.learners.add(joinerRef);
    this.d.db.transact((tx) => {
      for (const r of rows) {
        if (r.body === null || tx.get(r.cls, r.ref) !== undefined) continue;
        tx.create(r.cls, r.ref, r.cls === 'host' ? { ...r.body, epoch_slot: slot } : r.body);
      }
    });
    return { epoch: this.pos.epoch };
  }

  // ---- peer requests --------------------------------------------------------------------------

  /** What peers may ask of this host (peer-requests.ts decodes them and encodes the answers). */
  private readonly peerOps: PeerOps = {
    status: () => this.status(),
    vote: (epoch, candidate) => {
      if (epoch > this.pos.epoch) this.adopt(epoch, candidate);
    },
    follow: (master, epoch) => this.follow(master, epoch),
    promote: (expect) => this.promote(false, true, expect),
    admit: async (rows) => {
      const out = this.admit(rows);
      // The joiner is not in the quorum until it holds the pool's database: the hosts already
      // in the pool confirm its admission.
      await this.afterWrite();
      return out;
    },
    agent: (call, args) => this.d.agent(call, args),
    eject: () => {
      if (this.role === 'master') throw new ApiError('HOST_CANNOT_DESTROY_SELF', [this.d.hostRef()]);
      // Answer first: the reset replaces this host's identity and pool secret.
      setImmediate(() => void this.resetStandalone());
    },
  };

  private async resetStandalone(): Promise<void> {
    this.link.detach();
    this.replica = undefined;
    this.d.db.setReplica(true, 0);
    this.d.db.installSnapshot(0, [], {});
    this.d.db.setReplica(false);
    this.initStandalone();
    await this.d.resetToStandalone();
    this.startMaster();
  }

  // ---- periodic work ---------------------------------------------------------------------------

  private tick(): void {
    if (this.stopped) return;
    const now = this.d.clock.monotonic();
    if (this.role === 'member') {
      this.link.tick(now);
      return;
    }
    this.streams.pingAll();
    this.upkeep.tick(now);
  }
}
