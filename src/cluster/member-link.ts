// A member's link to its master: one long-lived replication stream (peer.ts) on which it says
// hello, applies the entries and snapshots the master sends, acknowledges them and sends
// heartbeats; it reconnects with backoff when the stream drops, and asks the coordinator to look
// for the master when the master refuses it or keeps failing. The verdicts on entries are
// MemberReplica's (replication.ts); the position this host holds (epoch, epoch starts, master)
// is shared with the coordinator and moves forward here.
import type { Clock, Timer } from '../base/clock.js';
import type { Logger } from '../base/log.js';
import { parseSnapshotRows, type Db } from '../db/db.js';
import type { StoredRow } from '../db/sqlite-store.js';
import {
  positionMeta,
  type Changes,
  type CoordinatorConfig,
  type PoolPosition,
} from './coordinator-types.js';
import type { PeerClient, StreamHandle } from './peer.js';
import type { Entry, EpochStart, MemberReplica } from './replication.js';

/** What the link needs from the coordinator. */
export interface MemberLinkDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly log: Logger;
  readonly config: CoordinatorConfig;
  readonly peers: PeerClient;
  /** This host's ref in the pool database. */
  hostRef(): string;
  /** How other hosts reach this one. */
  readonly selfAddress: string;
  /** The coordinator's position, read and advanced by what the master sends. */
  readonly position: PoolPosition;
  /** The member's replica state machine (undefined unless this host is a member). */
  replica(): MemberReplica | undefined;
  /** False once the coordinator is stopped or this host is master: the link then stays down. */
  following(): boolean;
  /** Asks the pool who is master (after a refusal, or repeated failures). */
  discover(): void;
  /** This host's disk leases, sent with each heartbeat. */
  leaseReport(): unknown;
}

export class MemberLink {
  private readonly pos: PoolPosition;
  private stream: StreamHandle | undefined;
  private connectedNow = false;
  private onConnected: (() => void)[] = [];
  /** A snapshot being received: installed at its end line. */
  private incoming:
    | { epoch: number; gen: number; dataEpoch: number; starts: EpochStart[]; rows: StoredRow[]; t0: number }
    | undefined;
  private lastHeard = 0;
  private failures = 0;
  private reconnectTimer: Timer | undefined;

  constructor(private readonly d: MemberLinkDeps) {
    this.pos = d.position;
  }

  /** True once this member holds its master's database, until the stream drops. */
  get connected(): boolean {
    return this.connectedNow;
  }

  /** Connects at once, as to a new master (no backoff left from failures to reach the old one). */
  connectAfresh(): void {
    this.failures = 0;
    this.connect();
  }

  /** Closes the stream without counting it as a failure (this host is no longer a member). */
  detach(): void {
    const old = this.stream;
    this.stream = undefined;
    old?.close();
    this.connectedNow = false;
  }

  /** Shutting down: the master is told, so it marks this host dead at once. */
  stop(): void {
    if (this.reconnectTimer !== undefined) this.d.clock.clearTimeout(this.reconnectTimer);
    const s = this.stream;
    this.stream = undefined;
    if (s !== undefined) {
      s.send({ t: 'bye' });
      s.close();
    }
  }

  /** Every heartbeat interval: a heartbeat up, and the stream dropped if the master went quiet. */
  tick(now: number): void {
    this.stream?.send({ t: 'ping', time: this.d.clock.now(), leases: this.d.leaseReport() });
    if (this.stream !== undefined && now - this.lastHeard > this.d.config.deadAfterMs)
      this.dropStream('no word from the master');
  }

  /** Opens the stream to the master the position names, replacing any stream open now. */
  connect(): void {
    const rep = this.d.replica();
    if (!this.d.following() || rep === undefined) return;
    if (this.reconnectTimer !== undefined) {
      this.d.clock.clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
    }
    this.incoming = undefined;
    // Detached first, so closing it is not mistaken for losing the master.
    const old = this.stream;
    this.stream = undefined;
    old?.close();
    const hello = {
      t: 'hello',
      host: this.d.hostRef(),
      epoch: this.pos.epoch,
      dataEpoch: rep.appliedEpoch,
      gen: rep.appliedGen,
    };
    const address = this.pos.masterAddr;
    this.lastHeard = this.d.clock.monotonic();
    let handle: StreamHandle | undefined = undefined;
    handle = this.d.peers.openStream(
      address,
      hello,
      (m) => {
        if (this.stream === handle) this.fromMaster(m as Record<string, unknown>);
      },
      (reason) => {
        if (this.stream !== handle) return;
        this.stream = undefined;
        this.connectedNow = false;
        this.failures++;
        this.d.log.info({ master: address, reason }, 'replication stream closed');
        this.scheduleReconnect();
      },
      () => {
        if (this.stream === handle) this.lastHeard = this.d.clock.monotonic();
      },
    );
    this.stream = handle;
  }

  private scheduleReconnect(): void {
    if (!this.d.following() || this.reconnectTimer !== undefined) return;
    const delay = Math.min(100 * 2 ** Math.min(this.failures, 5), this.d.config.heartbeatIntervalMs);
    this.reconnectTimer = this.d.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.failures >= 2) this.d.discover();
      this.connect();
    }, delay);
  }

  private fromMaster(m: Record<string, unknown>): void {
    const rep = this.d.replica();
    if (rep === undefined || this.stream === undefined) return;
    this.lastHeard = this.d.clock.monotonic();
    const epoch = Number(m.epoch);
    if (m.t === 'ping') {
      this.stream.send({ t: 'ping', time: this.d.clock.now() });
      return;
    }
    if (typeof m.t === 'string' && m.t.startsWith('snapshot-')) {
      this.snapshotLine(m, rep, this.stream);
      return;
    }
    // Entries that overtake a snapshot in progress come again once it is installed.
    if (m.t === 'entries' && this.incoming !== undefined) return;
    if (m.t === 'entries') {
      const verdict = rep.receive(epoch, m.entries as Entry<Changes>[]);
      if (verdict.kind === 'stale') return this.dropStream('the master is from an older epoch');
      if (verdict.kind === 'resync') return this.dropStream('entries do not follow what this host holds');
      if (verdict.kind === 'apply') {
        for (const e of verdict.entries) {
          if (e.epoch !== rep.appliedEpoch) this.pos.starts.push({ epoch: e.epoch, startGen: e.prevGen + 1 });
          this.pos.epoch = Math.max(this.pos.epoch, epoch);
          this.d.db.applyEntry(e.gen, e.changes, positionMeta(this.pos, e.epoch));
          rep.applied(e.epoch, e.gen);
        }
      }
      this.markConnected();
      this.stream.send({ t: 'ack', epoch, gen: rep.appliedGen });
      return;
    }
    if (m.t === 'stale' || m.t === 'notmaster' || m.t === 'unknown') {
      if (m.t === 'notmaster' && typeof m.master === 'string' && m.master !== this.d.selfAddress)
        this.pos.masterAddr = m.master;
      this.dropStream(`the master answered ${String(m.t)}`);
      this.d.discover();
    }
  }

  /** One line of a snapshot: its header, a batch of rows, or its end, where it is installed. */
  private snapshotLine(m: Record<string, unknown>, rep: MemberReplica, stream: StreamHandle): void {
    const epoch = Number(m.epoch);
    if (m.t === 'snapshot-begin') {
      if (epoch < this.pos.epoch) return this.dropStream('the master is from an older epoch');
      this.incoming = {
        epoch,
        gen: Number(m.gen),
        dataEpoch: Number(m.dataEpoch),
        starts: m.starts as EpochStart[],
        rows: [],
        t0: this.d.clock.monotonic(),
      };
      return;
    }
    if (m.t === 'snapshot-rows') {
      this.incoming?.rows.push(...parseSnapshotRows(m.rows));
      return;
    }
    if (m.t === 'snapshot-end') {
      const snap = this.incoming;
      this.incoming = undefined;
      if (snap === undefined || snap.gen !== Number(m.gen)) return this.dropStream('an incomplete snapshot');
      this.pos.starts = snap.starts;
      this.pos.epoch = snap.epoch;
      const t1 = this.d.clock.monotonic();
      this.d.db.installSnapshot(snap.gen, snap.rows, positionMeta(this.pos, snap.dataEpoch));
      rep.installSnapshot(snap.epoch, snap.gen, snap.dataEpoch);
      this.markConnected();
      stream.send({ t: 'installed', epoch: snap.epoch, gen: snap.gen });
      const now = this.d.clock.monotonic();
      this.d.log.info(
        {
          gen: snap.gen,
          rows: snap.rows.length,
          receiveMs: Math.round(t1 - snap.t0),
          installMs: Math.round(now - t1),
        },
        'installed a snapshot of the pool database',
      );
      return;
    }
  }

  private markConnected(): void {
    this.connectedNow = true;
    this.failures = 0;
    const waiting = this.onConnected;
    this.onConnected = [];
    for (const w of waiting) w();
  }

  /** Resolves once this member holds its master's database, or after `timeoutMs`. */
  connectedWithin(timeoutMs: number): Promise<void> {
    if (this.connectedNow) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.d.clock.setTimeout(resolve, timeoutMs);
      this.onConnected.push(() => {
        this.d.clock.clearTimeout(timer);
        resolve();
      });
    });
  }

  private dropStream(reason: string): void {
    this.d.log.warn({ reason }, 'leaving the replication stream');
    const s = this.stream;
    this.stream = undefined;
    this.connectedNow = false;
    s?.close();
    this.failures++;
    this.scheduleReconnect();
  }
}
