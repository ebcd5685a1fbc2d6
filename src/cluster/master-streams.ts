// The master's side of the replication streams: each member holds one long-lived request open
// (POST /pool/replicate, peer.ts); its first line says who it is and what it holds, then it sends
// acknowledgements and heartbeats up while the master sends entries, snapshots and pings down.
// What to send and when a write is acknowledged are MasterReplicator's decisions (replication.ts),
// who is live is Liveness's (liveness.ts); the coordinator carries out their actions.
import type http from 'node:http';
import type { Clock } from '../base/clock.js';
import type { Logger } from '../base/log.js';
import type { Db } from '../db/db.js';
import type { Changes, PoolPosition } from './coordinator-types.js';
import type { Liveness, LivenessChange } from './liveness.js';
import { lineReader } from './peer.js';
import type { Entry, MasterAction, MasterReplicator } from './replication.js';

/** Rows per line of a snapshot: small enough that the member parses while the rest arrives. */
const SNAPSHOT_BATCH_ROWS = 1000;

/** A member's stream as the master holds it. */
interface FollowerStream {
  readonly res: http.ServerResponse;
  readonly host: string;
}

/** What the streams need from the coordinator. */
export interface MasterStreamsDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly log: Logger;
  /** The coordinator's position (this master's epoch and epoch starts). */
  readonly position: PoolPosition;
  isMaster(): boolean;
  /** The replication state machine (undefined unless this host is master). */
  replicator(): MasterReplicator<Changes> | undefined;
  liveness(): Liveness | undefined;
  /** Carries out the replicator's actions (entries, snapshots, acknowledgements). */
  act(actions: readonly MasterAction<Changes>[]): void;
  /** Liveness changes seen on a stream (a heartbeat after silence, a goodbye). */
  markLive(changes: readonly LivenessChange[]): void;
  /** A member follows a newer epoch: this master was replaced, and should find out by whom. */
  newerEpoch(): void;
  /** A member has (re)connected (a host a forced promotion left out is back in the quorum). */
  rejoined(host: string): void;
  /** A member acknowledged entries or installed a snapshot (a joined host now holds the database). */
  holdsDatabase(host: string): void;
  /** A member's domains and the database are made to agree. */
  memberConnected(host: string): Promise<void>;
  /** A member's lease report, sent with its heartbeats. */
  leasesReported(host: string, report: unknown): void;
}

export class MasterStreams {
  private readonly pos: PoolPosition;
  private readonly streams = new Map<string, FollowerStream>();

  constructor(private readonly d: MasterStreamsDeps) {
    this.pos = d.position;
  }

  /** True when `host` streams from this master now. */
  has(host: string): boolean {
    return this.streams.has(host);
  }

  /** The hosts that stream from this master now. */
  hosts(): string[] {
    return [...this.streams.keys()];
  }

  /** Entries for one member (the replicator's `send`). */
  send(to: string, entries: readonly Entry<Changes>[]): void {
    this.streams.get(to)?.res.write(line({ t: 'entries', epoch: this.pos.epoch, entries }));
  }

  /** The master's heartbeat, on every stream. */
  pingAll(): void {
    for (const s of this.streams.values()) s.res.write(line({ t: 'ping', epoch: this.pos.epoch }));
  }

  /** Ends the streams of hosts that are no longer in the pool. */
  keepOnly(hosts: readonly string[]): void {
    for (const [id, s] of this.streams)
      if (!hosts.includes(id)) {
        s.res.end();
        this.streams.delete(id);
      }
  }

  /** Shutting down: every stream ends (each member reconnects, or finds the new master). */
  endAll(): void {
    for (const s of this.streams.values()) s.res.end();
  }

  /** Stepping down: every member is told who the master is now, and its stream is forgotten. */
  refuseAll(master: string): void {
    for (const s of this.streams.values()) s.res.end(line({ t: 'notmaster', epoch: this.pos.epoch, master }));
    this.streams.clear();
  }

  /** Serves one member's stream (POST /pool/replicate): its hello, then its acks and heartbeats. */
  serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    res.flushHeaders();
    let host: string | undefined;
    const close = () => {
      if (host === undefined) return;
      const s = this.streams.get(host);
      if (s?.res === res) {
        this.streams.delete(host);
        this.d.replicator()?.disconnect(host);
      }
      host = undefined;
    };
    req.setEncoding('utf8');
    const feed = lineReader((m) => {
      const msg = m as Record<string, unknown>;
      if (host === undefined) {
        host = this.hello(msg, res);
        return;
      }
      this.fromMember(host, msg);
    });
    req.on('data', (chunk: string) => {
      try {
        feed(chunk);
      } catch {
        res.destroy();
      }
    });
    req.on('close', close);
    res.on('close', close);
  }

  /** A member's first line. Returns the host it is, or undefined after refusing it. */
  private hello(m: Record<string, unknown>, res: http.ServerResponse): string | undefined {
    const host = String(m.host);
    const epoch = Number(m.epoch);
    const r = this.d.replicator();
    if (!this.d.isMaster() || r === undefined) {
      res.end(line({ t: 'notmaster', epoch: this.pos.epoch, master: this.pos.masterAddr }));
      return undefined;
    }
    if (epoch > this.pos.epoch) {
      // The member follows a newer epoch: this host is no longer the master.
      res.end(line({ t: 'stale', epoch: this.pos.epoch }));
      this.d.log.warn({ epoch: this.pos.epoch, newer: epoch }, 'a member follows a newer epoch');
      this.d.newerEpoch();
      return undefined;
    }
    if (this.d.db.get('host', host) === undefined) {
      res.end(line({ t: 'unknown', epoch: this.pos.epoch }));
      return undefined;
    }
    this.streams.get(host)?.res.end();
    this.streams.set(host, { res, host });
    this.d.rejoined(host);
    this.d.markLive(this.d.liveness()?.heartbeat(host, this.d.clock.monotonic()) ?? []);
    this.d.act(r.connect(host, Number(m.dataEpoch), Number(m.gen), this.pos.starts));
    this.d
      .memberConnected(host)
      .catch((e: unknown) =>
        this.d.log.warn({ host, err: String(e) }, 'could not reconcile the domains of a member'),
      );
    return host;
  }

  private fromMember(host: string, m: Record<string, unknown>): void {
    const r = this.d.replicator();
    if (r === undefined) return;
    const now = this.d.clock.monotonic();
    if (m.t === 'bye') {
      this.d.markLive(this.d.liveness()?.shuttingDown(host, now) ?? []);
      return;
    }
    this.d.markLive(
      this.d
        .liveness()
        ?.heartbeat(host, now, typeof m.time === 'number' ? m.time : undefined, this.d.clock.now()) ?? [],
    );
    if (m.t === 'ping' && m.leases !== undefined) this.d.leasesReported(host, m.leases);
    if (m.t === 'ack') this.d.act(r.ack(host, Number(m.epoch), Number(m.gen)));
    else if (m.t === 'installed') this.d.act(r.snapshotInstalled(host, Number(m.gen)));
    if (m.t === 'ack' || m.t === 'installed') this.d.holdsDatabase(host);
  }

  /**
   * Sends the database as it is at the head: a header line, the rows in batches, an end line.
   * The rows are taken at once (a consistent cut at `gen`) and serialised batch by batch, yielding
   * in between, so the member parses while the rest is on its way and the master keeps serving.
   * Entries committed meanwhile may reach the member before the end line; it drops them, and gets
   * them again once it reports the snapshot installed.
   */
  async sendSnapshot(to: string): Promise<void> {
    const s = this.streams.get(to);
    const r = this.d.replicator();
    if (s === undefined || r === undefined) return;
    const t0 = this.d.clock.monotonic();
    const gen = r.headGen;
    const rows = this.d.db.snapshotRows();
    const head = {
      t: 'snapshot-begin',
      epoch: this.pos.epoch,
      gen,
      dataEpoch: this.pos.epoch,
      starts: this.pos.starts,
    };
    s.res.write(line(head));
    for (let i = 0; i < rows.length; i += SNAPSHOT_BATCH_ROWS) {
      if (s.res.destroyed || this.streams.get(to) !== s) return;
      s.res.write(
        `{"t":"snapshot-rows","rows":${this.d.db.rowsJson(rows.slice(i, i + SNAPSHOT_BATCH_ROWS))}}\n`,
      );
      await new Promise((resolve) => setImmediate(resolve));
    }
    s.res.write(line({ t: 'snapshot-end', epoch: this.pos.epoch, gen }));
    const ms = Math.round(this.d.clock.monotonic() - t0);
    this.d.log.info({ to, rows: rows.length, ms }, 'sent a snapshot of the pool database');
  }
}

/** One message of the stream: a line of JSON. */
function line(m: unknown): string {
  return JSON.stringify(m) + '\n';
}
