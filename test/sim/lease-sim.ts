// A deterministic simulator for the disk lease protocol (src/cluster/lease.ts): hosts with
// drifting clocks run the real LeaseHost against a simulated shared SR whose reads and writes
// stall, fail, land late or hang, while hosts freeze, crash, restart and fall behind on the pool
// epoch, and an "operator" starts and stops VMs on any host at any time (no database guards
// here: the leases alone must prevent double runs). Domains carry a watchdog armed from the lease
// deadline, as the sim hypervisor does, so a frozen host's domains stop on time. After every
// event it checks that no VDI is used by running domains on two hosts. A seed replays exactly.
import type { Clock, Timer } from '../../src/base/clock.js';
import { LeaseError, LeaseHost, leaseTiming, type LeaseIo, type LeaseKey } from '../../src/cluster/lease.js';
import { SeededRandom } from '../../src/testing/fake-clock.js';

export const LEASE_SIM_EVENTS = 400;
const DURATION = 6000;
const SR = 'sr';

interface SimEvent {
  at: number;
  seq: number;
  /** Touches only the simulated storage: no continuation can be waiting on it. */
  quiet?: boolean;
  /** Delivered on this host's incarnation only; postponed while the host is frozen. */
  host?: SimHost;
  incarnation?: number;
  run: () => void;
}

interface Domain {
  /** Real time at which the watchdog destroys the domain. */
  watchdog: number;
}

interface SimHost {
  id: string;
  rate: number;
  offset: number;
  incarnation: number;
  up: boolean;
  frozenUntil: number;
  epoch: number;
  lh: LeaseHost;
  domains: Map<string, Domain>;
  starting: Set<string>;
  /** Writes of this incarnation that never completed: they land or vanish when it crashes. */
  hung: Array<() => void>;
}

export interface LeaseSimResult {
  violation?: string;
  trace: string[];
  starts: number;
  refusedHeld: number;
  refusedStale: number;
  takeovers: number;
  lostLeases: number;
  adopted: number;
  events: number;
}

export class LeaseSim {
  private readonly rng: SeededRandom;
  private readonly queue: SimEvent[] = [];
  private seq = 0;
  private now = 0;
  private readonly storage = new Map<string, Map<string, string>>();
  private readonly hosts: SimHost[] = [];
  private readonly vdis: string[];
  private readonly timing = leaseTiming(DURATION);
  private storageSlowUntil = 0;
  private nonceSeq = 0;
  private readonly r: LeaseSimResult = {
    trace: [],
    starts: 0,
    refusedHeld: 0,
    refusedStale: 0,
    takeovers: 0,
    lostLeases: 0,
    adopted: 0,
    events: 0,
  };
  /** Per VDI: the host that last ran it, to count takeovers by another host. */
  private readonly lastRunner = new Map<string, string>();

  constructor(
    readonly seed: number,
    private readonly tracing = false,
    hostCount = 3,
    vdiCount = 3,
  ) {
    this.rng = new SeededRandom(seed);
    this.vdis = Array.from({ length: vdiCount }, (_, i) => `vdi${i}`);
    for (let i = 0; i < hostCount; i++) {
      const h = {
        id: `h${i}`,
        // Clock rates within ±4 %: far inside the 2× margin between fenceMs and durationMs.
        rate: 0.96 + this.rng.next() * 0.08,
        offset: Math.floor(this.rng.next() * 1e6),
        incarnation: 0,
        up: true,
        frozenUntil: 0,
        epoch: 1,
        domains: new Map<string, Domain>(),
        starting: new Set<string>(),
        hung: [],
      } as unknown as SimHost;
      h.lh = this.leaseHost(h);
      this.hosts.push(h);
    }
  }

  /** Traces cost time, so a schedule records one only when replayed (after a failure). */
  private trace(s: string): void {
    if (this.tracing) this.r.trace.push(`${this.now.toFixed(0).padStart(7)} ${s}`);
  }

  private schedule(delay: number, run: () => void, host?: SimHost, quiet = false): void {
    const e: SimEvent = { at: this.now + Math.max(0, delay), seq: this.seq++, run, quiet };
    if (host !== undefined) {
      e.host = host;
      e.incarnation = host.incarnation;
    }
    this.push(e);
  }

  /** The event queue is a binary heap on (at, seq). */
  private push(e: SimEvent): void {
    const q = this.queue;
    q.push(e);
    for (let i = q.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!before(q[i] as SimEvent, q[p] as SimEvent)) break;
      [q[i], q[p]] = [q[p] as SimEvent, q[i] as SimEvent];
      i = p;
    }
  }

  private pop(): SimEvent {
    const q = this.queue;
    const top = q[0] as SimEvent;
    const last = q.pop() as SimEvent;
    if (q.length > 0) {
      q[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < q.length && before(q[l] as SimEvent, q[m] as SimEvent)) m = l;
        if (r < q.length && before(q[r] as SimEvent, q[m] as SimEvent)) m = r;
        if (m === i) break;
        [q[i], q[m]] = [q[m] as SimEvent, q[i] as SimEvent];
        i = m;
      }
    }
    return top;
  }

  private mono(h: SimHost): number {
    return h.offset + h.rate * this.now;
  }

  private realAt(h: SimHost, mono: number): number {
    return (mono - h.offset) / h.rate;
  }

  private clockOf(h: SimHost): Clock {
    return {
      now: () => 1_700_000_000_000 + this.mono(h),
      monotonic: () => this.mono(h),
      setTimeout: (fn: () => void, ms: number): Timer => {
        this.schedule(ms / h.rate, fn, h);
        return {};
      },
      clearTimeout: () => undefined,
    };
  }

  private latency(): number {
    const slow = this.now < this.storageSlowUntil;
    const x = this.rng.next();
    if (slow || x < 0.05) return 200 + this.rng.next() * DURATION * 1.2;
    return 1 + this.rng.next() * 30;
  }

  private io(h: SimHost): LeaseIo {
    return {
      read: (vdi) =>
        new Promise((resolve, reject) => {
          const lat = this.latency();
          const at = this.rng.next() * lat;
          let snapshot: Map<string, string> | undefined;
          this.schedule(at, () => (snapshot = new Map(this.storage.get(vdi) ?? [])), undefined, true);
          const fail = this.rng.next() < 0.03;
          this.schedule(
            lat,
            () => (fail ? reject(new Error('simulated read error')) : resolve(snapshot ?? new Map())),
            h,
          );
        }),
      write: (vdi, holder, text) =>
        new Promise((resolve, reject) => {
          const x = this.rng.next();
          const land = () => {
            const slots = this.storage.get(vdi) ?? new Map<string, string>();
            slots.set(holder, text);
            this.storage.set(vdi, slots);
          };
          if (x < 0.02) {
            // Hangs: never completes for this incarnation; may still land while the host lives.
            let landed = false;
            const landOnce = () => {
              if (!landed) land();
              landed = true;
            };
            if (this.rng.next() < 0.5) this.schedule(this.rng.next() * DURATION * 3, landOnce, h);
            h.hung.push(() => (this.rng.next() < 0.5 ? landOnce() : (landed = true)));
            return;
          }
          const lat = this.latency();
          const fail = x < 0.07;
          if (!fail || this.rng.next() < 0.5) this.schedule(this.rng.next() * lat, land, undefined, true);
          this.schedule(lat, () => (fail ? reject(new Error('simulated write error')) : resolve()), h);
        }),
    };
  }

  private leaseHost(h: SimHost): LeaseHost {
    const io = this.io(h);
    return new LeaseHost({
      host: h.id,
      clock: this.clockOf(h),
      timing: this.timing,
      io: () => io,
      epoch: () => h.epoch,
      nonce: () => `n${this.nonceSeq++}`,
      onLost: (keys: LeaseKey[]) => {
        for (const k of keys) {
          if (h.domains.delete(k.vdi)) this.r.lostLeases++;
          this.trace(`${h.id} lost ${k.vdi}: domain stopped`);
        }
        return Promise.resolve();
      },
      onRenewed: () => this.rearm(h),
    });
  }

  /** Watchdogs follow the lease deadline (never beyond it), as the daemon arms them. */
  private rearm(h: SimHost): void {
    this.purge(h);
    for (const [vdi, d] of h.domains) {
      const until = h.lh.validUntil(SR, vdi);
      if (until === undefined) continue;
      d.watchdog = Math.max(d.watchdog, this.realAt(h, until));
    }
  }

  private startTimers(h: SimHost): void {
    const renew = () => {
      void h.lh.renewAll().then(() => this.check());
      this.clockOf(h).setTimeout(renew, this.timing.renewMs);
    };
    const deadlines = () => {
      void h.lh.checkDeadlines();
      this.clockOf(h).setTimeout(deadlines, this.timing.renewMs / 2);
    };
    this.clockOf(h).setTimeout(renew, this.timing.renewMs);
    this.clockOf(h).setTimeout(deadlines, this.timing.renewMs / 2);
  }

  /** Domains whose watchdog fired are gone, as the sim hypervisor reports them. */
  private purge(h: SimHost): void {
    for (const [vdi, d] of h.domains) if (this.now >= d.watchdog) h.domains.delete(vdi);
  }

  private running(h: SimHost, vdi: string): boolean {
    const d = h.domains.get(vdi);
    return d !== undefined && this.now < d.watchdog;
  }

  private check(): void {
    if (this.r.violation !== undefined) return;
    for (const vdi of this.vdis) {
      // A host holds the disk while its lease is valid on its own clock (a frozen host's too).
      const holders = this.hosts.filter(
        (h) => h.up && (h.lh.validUntil(SR, vdi) ?? -Infinity) > this.mono(h),
      );
      if (holders.length > 1)
        this.r.violation = `VDI ${vdi} attached read-write on ${holders.map((h) => h.id).join(' and ')}`;
      const on = this.hosts.filter((h) => this.running(h, vdi)).map((h) => h.id);
      if (on.length > 1) this.r.violation = `VM of ${vdi} runs on ${on.join(' and ')}`;
    }
  }

  private start(h: SimHost, vdi: string): void {
    if (h.domains.has(vdi) || h.starting.has(vdi)) return;
    h.starting.add(vdi);
    const wait = this.rng.next() < 0.5 ? 0 : this.rng.next() * 2 * DURATION;
    this.trace(`${h.id} start ${vdi} (wait ${wait.toFixed(0)})`);
    h.lh.acquire(SR, vdi, wait).then(
      () => {
        h.starting.delete(vdi);
        const until = h.lh.validUntil(SR, vdi);
        if (until === undefined) return;
        h.domains.set(vdi, { watchdog: this.realAt(h, until) });
        this.r.starts++;
        if (this.lastRunner.get(vdi) !== undefined && this.lastRunner.get(vdi) !== h.id) this.r.takeovers++;
        this.lastRunner.set(vdi, h.id);
        this.trace(`${h.id} runs ${vdi}`);
        this.check();
      },
      (e: unknown) => {
        h.starting.delete(vdi);
        if (e instanceof LeaseError && e.code === 'LEASE_HELD') this.r.refusedHeld++;
        if (e instanceof LeaseError && e.code === 'LEASE_EPOCH_STALE') this.r.refusedStale++;
        this.trace(`${h.id} start ${vdi} refused: ${e instanceof Error ? e.message : String(e)}`);
      },
    );
  }

  private stop(h: SimHost, vdi: string): void {
    if (!h.domains.delete(vdi)) return;
    this.trace(`${h.id} stop ${vdi}`);
    void h.lh.release(SR, vdi).catch(() => undefined);
  }

  private crash(h: SimHost): void {
    this.trace(`${h.id} crashes`);
    h.up = false;
    h.incarnation++;
    for (const settle of h.hung.splice(0)) settle();
    h.starting.clear();
    this.schedule(this.rng.next() * DURATION * 2, () => this.restart(h));
  }

  private restart(h: SimHost): void {
    h.up = true;
    h.frozenUntil = 0;
    h.lh = this.leaseHost(h);
    this.trace(`${h.id} restarts`);
    this.startTimers(h);
    for (const [vdi, d] of h.domains) {
      if (this.now >= d.watchdog) {
        h.domains.delete(vdi);
        continue;
      }
      const until = h.offset + h.rate * d.watchdog;
      void h.lh.adopt(SR, vdi, until).then((ok) => {
        if (!ok) {
          h.domains.delete(vdi);
          this.trace(`${h.id} could not adopt ${vdi}: domain stopped`);
        } else {
          this.r.adopted++;
          this.rearm(h);
        }
        this.check();
      });
    }
  }

  private act(): void {
    const h = this.hosts[Math.floor(this.rng.next() * this.hosts.length)] as SimHost;
    const vdi = this.vdis[Math.floor(this.rng.next() * this.vdis.length)] as string;
    const x = this.rng.next();
    const usable = h.up && this.now >= h.frozenUntil;
    if (x < 0.45) {
      if (usable) this.start(h, vdi);
    } else if (x < 0.6) {
      if (usable) this.stop(h, vdi);
    } else if (x < 0.68) {
      if (usable) {
        h.frozenUntil = this.now + this.rng.next() * DURATION * 3;
        this.trace(`${h.id} frozen until ${h.frozenUntil.toFixed(0)}`);
      }
    } else if (x < 0.73) {
      if (h.up) this.crash(h);
    } else if (x < 0.78) {
      // The pool moves to a new epoch; some hosts learn it late, one maybe never (cut off).
      const epoch = Math.max(...this.hosts.map((o) => o.epoch)) + 1;
      h.epoch = epoch;
      this.trace(`${h.id} starts epoch ${epoch}`);
      for (const o of this.hosts) {
        if (o !== h && this.rng.next() < 0.8)
          this.schedule(this.rng.next() * DURATION, () => (o.epoch = Math.max(o.epoch, epoch)));
      }
    } else if (x < 0.8) {
      this.storageSlowUntil = this.now + this.rng.next() * DURATION * 2;
      this.trace(`storage stalls until ${this.storageSlowUntil.toFixed(0)}`);
    }
    this.schedule(this.rng.next() * DURATION * 0.6, () => this.act());
  }

  async run(events = LEASE_SIM_EVENTS): Promise<LeaseSimResult> {
    for (const h of this.hosts) this.startTimers(h);
    this.schedule(0, () => this.act());
    while (this.r.events < events && this.r.violation === undefined && this.queue.length > 0) {
      const e = this.pop();
      if (e.host !== undefined) {
        if (e.incarnation !== e.host.incarnation || !e.host.up) continue;
        if (e.at < e.host.frozenUntil) {
          // A frozen process runs nothing; what was due runs when it thaws.
          this.push({ ...e, at: e.host.frozenUntil, seq: this.seq++ });
          continue;
        }
      }
      this.now = Math.max(this.now, e.at);
      for (const h of this.hosts) this.purge(h);
      this.r.events++;
      e.run();
      // Let the continuations of what just happened run (deterministic: no real I/O is involved).
      if (e.quiet !== true) await new Promise<void>((resolve) => setImmediate(resolve));
      this.check();
    }
    return this.r;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
