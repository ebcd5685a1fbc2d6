// Member liveness as seen by one observer (the master), as a pure state machine (DESIGN.md
// principle 2). A host is live while its last sign of life is at most deadAfterMs old on the
// OBSERVER's own monotonic clock; a clean shutdown makes it dead at once (like xapi's
// `shutting-down` heartbeat). Senders' clocks never decide liveness, so clock skew between hosts
// cannot make a host look dead or alive; the sender's time only feeds the skew estimate (xapi
// raises HOST_CLOCK_SKEW_DETECTED from the same comparison).
//
// Nothing here reads a clock: every call says what time it is on the observer's clock.
import { assert } from '../base/assert.js';

export interface LivenessConfig {
  /** How often members send a heartbeat (on their own clocks). */
  heartbeatIntervalMs: number;
  /** A host with no sign of life for longer than this (observer's clock) is dead. */
  deadAfterMs: number;
}

export const defaultLiveness: LivenessConfig = { heartbeatIntervalMs: 2000, deadAfterMs: 15000 };

export type LivenessChange = { host: string; live: boolean };

interface Watched {
  lastSeen: number;
  live: boolean;
  skewMs: number | undefined;
}

export class Liveness {
  private readonly hosts = new Map<string, Watched>();
  /** The latest `now` seen: a clock that steps back must not revive or kill anyone. */
  private clock: number;

  constructor(
    private readonly config: LivenessConfig,
    hosts: readonly string[],
    now: number,
  ) {
    assert(config.heartbeatIntervalMs > 0, 'heartbeatIntervalMs must be positive');
    // Several heartbeats must be able to go missing before a host is declared dead.
    assert(config.deadAfterMs > config.heartbeatIntervalMs, 'deadAfterMs must exceed heartbeatIntervalMs');
    assert(Number.isFinite(now), 'now must be a finite number');
    this.clock = now;
    this.setHosts(hosts, now);
  }

  private advance(now: number): number {
    assert(Number.isFinite(now), 'now must be a finite number');
    this.clock = Math.max(this.clock, now);
    return this.clock;
  }

  /**
   * Any sign of life from `host` (a heartbeat, or any other message from it). `senderTime` is the
   * sender's wall clock when it sent; `receiverTime` the observer's wall clock on receipt, which
   * defaults to `now` for observers whose `now` is a wall clock (a daemon passing a monotonic
   * `now` must pass it). Hosts outside the membership are ignored: they are not ours to watch.
   */
  heartbeat(host: string, now: number, senderTime?: number, receiverTime: number = now): LivenessChange[] {
    const t = this.advance(now);
    const w = this.hosts.get(host);
    if (w === undefined) return [];
    w.lastSeen = t;
    if (senderTime !== undefined && Number.isFinite(senderTime)) w.skewMs = senderTime - receiverTime;
    if (w.live) return [];
    w.live = true;
    return [{ host, live: true }];
  }

  /**
   * A clean shutdown: dead at once rather than after deadAfterMs. Only a later sign of life (the
   * host starting again) makes it live again; `tick` never does.
   */
  shuttingDown(host: string, now: number): LivenessChange[] {
    this.advance(now);
    const w = this.hosts.get(host);
    if (w === undefined || !w.live) return [];
    w.live = false;
    return [{ host, live: false }];
  }

  /** Hosts whose last sign of life is older than deadAfterMs become dead (reported once). */
  tick(now: number): LivenessChange[] {
    const t = this.advance(now);
    const out: LivenessChange[] = [];
    for (const [host, w] of this.hosts) {
      if (w.live && t - w.lastSeen > this.config.deadAfterMs) {
        w.live = false;
        out.push({ host, live: false });
      }
    }
    return out;
  }

  /**
   * The membership changed (join or eject). Hosts that stay keep their state; new hosts start live
   * as if just heard from, so a join is not reported dead before it had a chance to heartbeat.
   */
  setHosts(hosts: readonly string[], now: number): void {
    const t = this.advance(now);
    const keep = new Set(hosts);
    for (const h of [...this.hosts.keys()]) if (!keep.has(h)) this.hosts.delete(h);
    for (const h of hosts)
      if (!this.hosts.has(h)) this.hosts.set(h, { lastSeen: t, live: true, skewMs: undefined });
  }

  /** False for dead hosts and for hosts outside the membership. */
  isLive(host: string): boolean {
    return this.hosts.get(host)?.live ?? false;
  }

  /** The last estimate of (sender's wall clock - observer's wall clock), if a heartbeat gave one. */
  skewMs(host: string): number | undefined {
    return this.hosts.get(host)?.skewMs;
  }
}
