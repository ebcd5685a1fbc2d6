// This host's disk leases (src/cluster/lease.ts, docs/storage.md) wired to its drivers. The
// hypervisor is wrapped so that no caller can forget them: a domain boots only after this host
// holds the leases of all its read-write disks, with its watchdog armed at the leases' deadline;
// the leases are given up only after the domain is gone. Renewals re-arm the watchdogs; a lease
// that is lost (renewals failed until the deadline, or a newer epoch took over) stops its domains.
import { formatDateTime, parseDateTime, type Clock, type Random } from '../../base/clock.js';
import { newUuid } from '../../base/ids.js';
import type { Logger } from '../../base/log.js';
import { LeaseError, LeaseHost, type LeaseKey, type LeaseTiming } from '../../cluster/lease.js';
import {
  isDriverError,
  type BootOptions,
  type DomainInfo,
  type DomainSpec,
  type HypervisorDriver,
  type HypervisorVmOps,
} from '../../drivers/hypervisor/driver.js';
import type { StorageDriver } from '../../drivers/storage/driver.js';
import { ApiError } from '../../model/errors.js';
import type { Rec } from '../../model/index.js';
import { NULL_DATE, NULL_REF } from '../../model/types.js';
import type { Services } from '../context.js';

export interface HostLeasesOptions {
  /** This host's uuid: the name of its lease slots. */
  hostUuid(): string;
  clock: Clock;
  random: Random;
  log: Logger;
  timing: LeaseTiming;
  /** The SRs this host has attached (its lease slots are on them). */
  storage: ReadonlyMap<string, StorageDriver>;
  epoch(): number;
  /** How long a boot waits for a silent holder's lease to run out before refusing. */
  waitMs: number;
}

/** What a host tells the master about its leases (carried by its heartbeats). */
export interface LeaseReport {
  held: Array<{ vdi: string; epoch: number; expiresAt: number }>;
  /** How many leases this host has lost since it started: a rise means domains were stopped. */
  lost: number;
}

/** The leases a domain needs: its read-write, non-sharable disks (DiskSpec.lease). */
function leaseKeys(spec: DomainSpec): LeaseKey[] {
  return spec.disks.flatMap((d) => (d.lease !== undefined && d.mode === 'RW' ? [d.lease] : []));
}

export class HostLeases {
  /** The hypervisor's VM operations with the leases taken and given up around them. */
  readonly vm: HypervisorVmOps;
  private lh: LeaseHost | undefined;
  private lhHost = '';
  /** Leases of the domains booted (or adopted) here, by domain uuid. */
  private readonly domains = new Map<string, LeaseKey[]>();
  private readonly timers: Array<ReturnType<typeof setInterval>> = [];
  private arming: Promise<void> | undefined;
  private armAgain = false;
  private lostCount = 0;

  constructor(
    private readonly inner: HypervisorDriver,
    private readonly o: HostLeasesOptions,
  ) {
    const vm = inner.vm;
    this.vm = {
      list: () => vm.list(),
      get: (uuid) => vm.get(uuid),
      pause: (uuid) => vm.pause(uuid),
      unpause: (uuid) => vm.unpause(uuid),
      reboot: (uuid, opts) => vm.reboot(uuid, opts),
      arm: (deadlines) => vm.arm(deadlines),
      create: (spec, opts) => this.boot(spec, opts, (o2) => vm.create(spec, o2)),
      resume: (spec, image, opts) => this.boot(spec, opts, (o2) => vm.resume(spec, image, o2)),
      shutdown: (uuid, opts) => this.afterDomain(uuid, () => vm.shutdown(uuid, opts)),
      suspend: (uuid, image) => this.afterDomain(uuid, () => vm.suspend(uuid, image)),
    };
  }

  private newLeaseHost(): LeaseHost {
    return new LeaseHost({
      host: this.lhHost,
      clock: this.o.clock,
      timing: this.o.timing,
      io: (sr) => {
        const drv = this.o.storage.get(sr);
        return drv === undefined
          ? undefined
          : { read: (vdi) => drv.leaseRead(vdi), write: (vdi, h, text) => drv.leaseWrite(vdi, h, text) };
      },
      epoch: () => this.o.epoch(),
      nonce: () => newUuid(this.o.random),
      onLost: (keys) => this.stopDomainsUsing(keys),
      onRenewed: () => this.armSoon(),
    });
  }

  /** The lease slots are named by host uuid: an ejected host starts again under a new one. */
  private current(): LeaseHost {
    const host = this.o.hostUuid();
    if (this.lh === undefined || (host !== this.lhHost && this.lh.holds().length === 0)) {
      this.lhHost = host;
      this.lh = this.newLeaseHost();
    }
    return this.lh;
  }

  /** Starts renewing, after taking back the leases of the domains that outlived a restart. */
  async start(): Promise<void> {
    await this.adoptRunning();
    const { renewMs } = this.o.timing;
    const renew = setInterval(() => void this.current().renewAll(), renewMs);
    const deadlines = setInterval(() => void this.current().checkDeadlines(), Math.max(1, renewMs / 2));
    renew.unref();
    deadlines.unref();
    this.timers.push(renew, deadlines);
  }

  stop(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
  }

  report(): LeaseReport {
    return {
      held: this.current()
        .report()
        .map(({ vdi, epoch, expiresAt }) => ({ vdi, epoch, expiresAt })),
      lost: this.lostCount,
    };
  }

  private deadline(keys: readonly LeaseKey[]): number | undefined {
    let until = Infinity;
    for (const k of keys) {
      const v = this.current().validUntil(k.sr, k.vdi);
      if (v === undefined) return undefined;
      until = Math.min(until, v);
    }
    return this.o.clock.now() + (until - this.o.clock.monotonic());
  }

  private async boot(
    spec: DomainSpec,
    opts: BootOptions,
    fn: (o: BootOptions) => Promise<DomainInfo>,
  ): Promise<DomainInfo> {
    const keys = leaseKeys(spec);
    if (keys.length === 0) return fn(opts);
    const lh = this.current();
    const taken: LeaseKey[] = [];
    try {
      for (const k of keys) {
        if (lh.validUntil(k.sr, k.vdi) !== undefined) continue;
        await lh.acquire(k.sr, k.vdi, this.o.waitMs);
        taken.push(k);
      }
      const watchdogAtMs = this.deadline(keys);
      if (watchdogAtMs === undefined)
        throw new ApiError('VDI_LEASE_UNAVAILABLE', [keys[0]?.vdi ?? '', 'the lease was lost while booting']);
      const d = await fn({ ...opts, watchdogAtMs });
      this.domains.set(spec.uuid, keys);
      return d;
    } catch (e) {
      // Only the leases taken by this call: one already held belongs to a domain running here.
      for (const k of taken) await lh.release(k.sr, k.vdi).catch(() => undefined);
      throw this.toApiError(e);
    }
  }

  /** Runs an operation that ends a domain, then gives up its leases (also when it was gone). */
  private async afterDomain(uuid: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (!isDriverError(e, 'NO_SUCH_DOMAIN')) throw e;
      await this.releaseOf(uuid);
      throw e;
    }
    await this.releaseOf(uuid);
  }

  private async releaseOf(uuid: string): Promise<void> {
    const keys = this.domains.get(uuid) ?? [];
    this.domains.delete(uuid);
    for (const k of keys) {
      await this.current()
        .release(k.sr, k.vdi)
        .catch((e: unknown) => {
          // The slot still says held: it expires by itself, so this only delays the next taker.
          this.o.log.warn({ vdi: k.vdi, err: String(e) }, 'could not release a disk lease');
        });
    }
  }

  private async stopDomainsUsing(keys: LeaseKey[]): Promise<void> {
    const lost = new Set(keys.map((k) => `${k.sr}/${k.vdi}`));
    this.lostCount += keys.length;
    for (const [uuid, used] of this.domains) {
      if (!used.some((k) => lost.has(`${k.sr}/${k.vdi}`))) continue;
      this.o.log.warn({ vm: uuid, vdis: used.map((k) => k.vdi) }, 'disk lease lost: stopping the domain');
      this.domains.delete(uuid);
      try {
        await this.inner.vm.shutdown(uuid, { clean: false });
      } catch (e) {
        // Gone already (its watchdog fired); anything else and the watchdog still stops it.
        if (!isDriverError(e, 'NO_SUCH_DOMAIN'))
          this.o.log.error({ vm: uuid, err: String(e) }, 'stop failed');
      }
    }
  }

  /** Re-arms the watchdogs after renewals; one arming at a time, the latest deadlines win. */
  private armSoon(): void {
    if (this.arming !== undefined) {
      this.armAgain = true;
      return;
    }
    this.arming = (async () => {
      do {
        this.armAgain = false;
        const deadlines: Record<string, number> = {};
        for (const [uuid, keys] of this.domains) {
          const at = this.deadline(keys);
          if (at !== undefined) deadlines[uuid] = at;
        }
        await this.inner.vm.arm(deadlines).catch((e: unknown) => {
          this.o.log.error({ err: String(e) }, 'could not re-arm domain watchdogs');
        });
      } while (this.armAgain);
    })().finally(() => (this.arming = undefined));
  }

  /**
   * After a daemon restart: a domain still alive (its watchdog has not fired) keeps running only
   * if this host's slots still hold its disks; otherwise it is stopped.
   */
  private async adoptRunning(): Promise<void> {
    const lh = this.current();
    for (const d of await this.inner.vm.list()) {
      const keys = d.leases ?? [];
      if (keys.length === 0) continue;
      const until =
        d.watchdogAtMs === undefined
          ? this.o.clock.monotonic()
          : this.o.clock.monotonic() + (d.watchdogAtMs - this.o.clock.now());
      let ok = true;
      for (const k of keys) ok = ok && (await lh.adopt(k.sr, k.vdi, until));
      if (ok) {
        this.domains.set(d.uuid, keys);
        continue;
      }
      this.o.log.warn(
        { vm: d.uuid },
        'a domain outlived the daemon but its disk leases did not: stopping it',
      );
      this.domains.set(d.uuid, keys);
      await this.afterDomain(d.uuid, () => this.inner.vm.shutdown(d.uuid, { clean: false })).catch(
        () => undefined,
      );
    }
    this.armSoon();
  }

  private toApiError(e: unknown): unknown {
    if (!(e instanceof LeaseError)) return e;
    if (e.code === 'LEASE_HELD') {
      const secs = e.expiresInMs < 0 ? -1 : Math.ceil(e.expiresInMs / 1000);
      return new ApiError('VDI_LEASE_HELD', [e.vdi, e.holder, String(secs)]);
    }
    if (e.code === 'LEASE_EPOCH_STALE')
      return new ApiError('POOL_EPOCH_STALE', [String(this.o.epoch()), String(e.epoch)]);
    return new ApiError('VDI_LEASE_UNAVAILABLE', [e.vdi, e.message]);
  }
}

function parseReport(x: unknown): LeaseReport | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const { held, lost } = x as Record<string, unknown>;
  if (!Array.isArray(held) || typeof lost !== 'number') return undefined;
  const ok = held.every(
    (h: unknown) =>
      typeof h === 'object' &&
      h !== null &&
      typeof (h as Record<string, unknown>).vdi === 'string' &&
      typeof (h as Record<string, unknown>).epoch === 'number' &&
      typeof (h as Record<string, unknown>).expiresAt === 'number',
  );
  return ok ? { held: held as LeaseReport['held'], lost } : undefined;
}

/**
 * On the master: shows the hosts' leases on the VDI records (lease_holder, lease_epoch,
 * lease_expires), writing only what changed meaningfully (an expiry that moved by more than a
 * quarter of the lease duration), and reconciles a host that reports lost leases, so the VMs
 * whose domains it stopped are recorded as Halted.
 */
export class LeaseRecords {
  /** The last `lost` count seen per host, to notice new losses. */
  private readonly lossesSeen = new Map<string, number>();
  /** Per host: the leases the records were last brought in line with (by VDI uuid). */
  private readonly shown = new Map<string, Map<string, LeaseReport['held'][number]>>();

  constructor(
    private readonly svc: () => Services,
    private readonly durationMs: number,
    private readonly reconcile: (host: string) => Promise<void>,
  ) {}

  record(host: string, raw: unknown): void {
    const svc = this.svc();
    const report = parseReport(raw);
    if (report === undefined || svc.db.get('host', host) === undefined) return;
    this.noticeLosses(host, report.lost);
    // Most reports say what the records already show: skip the scan of every VDI then.
    if (this.shownAlready(host, report)) return;
    const held = new Map(report.held.map((h) => [h.vdi, h]));
    const changes: Array<[string, Partial<Rec<'VDI'>>]> = [];
    for (const row of svc.db.all('VDI').values()) {
      const vdi = row.rec as Rec<'VDI'>;
      const h = held.get(vdi.uuid);
      if (h === undefined) {
        if (vdi.lease_holder === host)
          changes.push([row.ref, { lease_holder: NULL_REF, lease_expires: NULL_DATE }]);
        continue;
      }
      const shownAt = parseDateTime(vdi.lease_expires);
      if (
        vdi.lease_holder !== host ||
        vdi.lease_epoch !== h.epoch ||
        !(Math.abs(shownAt - h.expiresAt) < this.durationMs / 4)
      )
        changes.push([
          row.ref,
          { lease_holder: host, lease_epoch: h.epoch, lease_expires: formatDateTime(h.expiresAt) },
        ]);
    }
    if (changes.length > 0)
      svc.db.transact((tx) => {
        for (const [ref, patch] of changes) tx.update('VDI', ref, patch);
      });
    this.shown.set(host, held);
  }

  /** True when the records show this report within the tolerance (nothing to write). */
  private shownAlready(host: string, report: LeaseReport): boolean {
    const shown = this.shown.get(host);
    if (shown === undefined || shown.size !== report.held.length) return false;
    return report.held.every((h) => {
      const s = shown.get(h.vdi);
      return (
        s !== undefined && s.epoch === h.epoch && Math.abs(s.expiresAt - h.expiresAt) < this.durationMs / 4
      );
    });
  }

  private noticeLosses(host: string, lost: number): void {
    const before = this.lossesSeen.get(host);
    this.lossesSeen.set(host, lost);
    if (before !== undefined && lost > before)
      this.reconcile(host).catch((e: unknown) =>
        this.svc().log.warn({ host, err: String(e) }, 'could not reconcile a host that lost disk leases'),
      );
  }
}
