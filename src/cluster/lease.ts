// Disk leases (DESIGN.md principle 5; docs/storage.md): one host at a time may attach a VDI
// read-write, and it is the SR, not the pool database, that says which. Each VDI has one lease
// slot per host on its SR, written only by that host. A host takes a disk by writing its own slot
// as `held`; it keeps it by rewriting the slot (a fresh nonce) every `renewMs`. Another host may
// take the disk when every other slot is released, or has not changed for `durationMs` on ITS OWN
// clock: no clock is ever compared with another host's. The holder stops its domains `fenceMs`
// after the START of its last confirmed renewal, so by the time a slot has looked unchanged for
// `durationMs` (> fenceMs, with margin for clock-rate differences) its holder has stopped.
//
// Why it is safe (checked by test/sim/lease-sim.ts after every step):
// - a host counts a renewal only if it completes before its current deadline, and a deadline that
//   passed is final (the lease is lost, the domains stop, the watchdog fires regardless);
// - a taker's last look (after writing its own slot) is at least `durationMs` after it first saw
//   the holder's slot, so any renewal of the holder that could still count would have changed it;
// - two takers racing both write then re-read, so the later of them sees the earlier and backs off;
// - slots of one host are written one at a time, in order; storage may stall or fail a write, and
//   must complete or drop it before the writer restarts (docs/storage.md states this assumption).
// Epochs: a slot carries the pool epoch of its writer. A host that finds a newer epoch on a disk
// it holds yields at once (it is a returning old master, or was cut off while the pool moved on),
// and a host may not take a disk that a newer epoch has written.
import type { Clock } from '../base/clock.js';

export interface LeaseTiming {
  /** A slot unchanged this long (the taker's clock) is expired. */
  durationMs: number;
  /** The holder rewrites its slot this often. */
  renewMs: number;
  /** The holder's domains stop this long after its last confirmed renewal began. */
  fenceMs: number;
}

/** Renew six times per duration; stop at half of it, so two renewals may fail without harm. */
export function leaseTiming(durationMs: number): LeaseTiming {
  return {
    durationMs,
    renewMs: Math.max(1, Math.floor(durationMs / 6)),
    fenceMs: Math.floor(durationMs / 2),
  };
}

export const LEASE_DURATION_DEFAULT_MS = 60_000;
export const LEASE_DURATION_MIN_MS = 3000;

export interface LeaseSlot {
  holder: string;
  state: 'held' | 'released';
  epoch: number;
  /** New on every write, so an unchanged slot means no write landed. */
  nonce: string;
  /** The writer's wall clock at the write, and the expiry it claims: shown to admins only. */
  writtenAt: number;
  expiresAt: number;
}

const SLOT_VERSION = 1;

export function encodeSlot(s: LeaseSlot): string {
  return JSON.stringify({ v: SLOT_VERSION, ...s }) + '\n';
}

/** A slot that cannot be parsed is treated as held by an unknown host: it must expire first. */
export function parseSlot(text: string): LeaseSlot | undefined {
  try {
    const x = JSON.parse(text) as Record<string, unknown>;
    if (x.v !== SLOT_VERSION) return undefined;
    const { holder, state, epoch, nonce, writtenAt, expiresAt } = x;
    if (typeof holder !== 'string' || (state !== 'held' && state !== 'released')) return undefined;
    if (!Number.isSafeInteger(epoch) || typeof nonce !== 'string') return undefined;
    if (typeof writtenAt !== 'number' || typeof expiresAt !== 'number') return undefined;
    return { holder, state, epoch: epoch as number, nonce, writtenAt, expiresAt };
  } catch {
    return undefined;
  }
}

/** The lease slots of one SR. */
export interface LeaseIo {
  read(vdi: string): Promise<Map<string, string>>;
  write(vdi: string, holder: string, text: string): Promise<void>;
}

export type LeaseErrorCode = 'LEASE_HELD' | 'LEASE_EPOCH_STALE' | 'LEASE_IO';

export class LeaseError extends Error {
  override readonly name = 'LeaseError';
  constructor(
    readonly code: LeaseErrorCode,
    readonly vdi: string,
    message: string,
    /** The other host (LEASE_HELD) and the newest epoch seen. */
    readonly holder = '',
    readonly epoch = 0,
    /** For LEASE_HELD: how long until the lease expires if its holder stays silent (-1: it renews). */
    readonly expiresInMs = -1,
  ) {
    super(message);
  }
}

export interface LeaseKey {
  sr: string;
  vdi: string;
}

interface Held extends LeaseKey {
  epoch: number;
  /** Wall clock of the last confirmed write: the lease expires `durationMs` after it. */
  renewedAt: number;
  /** Monotonic time at which the holder must have stopped using the disk. */
  validUntil: number;
  lost: boolean;
}

export interface LeaseHostOptions {
  /** This host's uuid: the name of its slots. */
  host: string;
  clock: Clock;
  timing: LeaseTiming;
  io(sr: string): LeaseIo | undefined;
  /** The pool epoch this host follows now. */
  epoch(): number;
  nonce(): string;
  /** The leases are lost: the domains using them must stop now. Resolves when they have. */
  onLost(keys: LeaseKey[]): Promise<void>;
  /** A renewal was confirmed: the domains using the disk may run until `validUntil` (monotonic). */
  onRenewed?(key: LeaseKey, validUntil: number): void;
}

const keyOf = (sr: string, vdi: string) => `${sr}/${vdi}`;

/** One host's side of the lease protocol: the disks it holds and the ones it is taking. */
export class LeaseHost {
  private readonly held = new Map<string, Held>();
  /** Writes to one slot are issued one after another (the ordering the safety proof needs). */
  private readonly writes = new Map<string, Promise<void>>();
  private readonly t: LeaseTiming;

  constructor(private readonly o: LeaseHostOptions) {
    this.t = o.timing;
  }

  /** Monotonic time until which this host may use the disk, or undefined if it does not hold it. */
  validUntil(sr: string, vdi: string): number | undefined {
    const h = this.held.get(keyOf(sr, vdi));
    return h === undefined || h.lost ? undefined : h.validUntil;
  }

  holds(): LeaseKey[] {
    return [...this.held.values()].filter((h) => !h.lost).map(({ sr, vdi }) => ({ sr, vdi }));
  }

  /** What this host holds, for the VDI records (lease_holder/epoch/expires). */
  report(): Array<LeaseKey & { epoch: number; expiresAt: number }> {
    return [...this.held.values()]
      .filter((h) => !h.lost)
      .map((h) => ({ sr: h.sr, vdi: h.vdi, epoch: h.epoch, expiresAt: h.renewedAt + this.t.durationMs }));
  }

  private io(sr: string, vdi: string): LeaseIo {
    const io = this.o.io(sr);
    if (io === undefined) throw new LeaseError('LEASE_IO', vdi, `SR ${sr} is not attached on this host`);
    return io;
  }

  /** The other hosts' slots of a disk: their exact texts (nonces make them unique) and contents. */
  private async read(sr: string, vdi: string): Promise<Map<string, { text: string; slot?: LeaseSlot }>> {
    let raw: Map<string, string>;
    try {
      raw = await this.io(sr, vdi).read(vdi);
    } catch (e) {
      if (e instanceof LeaseError) throw e;
      throw new LeaseError('LEASE_IO', vdi, `cannot read the leases of ${vdi}: ${String(e)}`);
    }
    const out = new Map<string, { text: string; slot?: LeaseSlot }>();
    for (const [holder, text] of raw) {
      const slot = parseSlot(text);
      if (holder !== this.o.host) out.set(holder, slot === undefined ? { text } : { text, slot });
    }
    return out;
  }

  /** Writes this host's slot after any earlier write to it has finished. */
  private write(sr: string, vdi: string, state: LeaseSlot['state'], epoch: number): Promise<void> {
    const k = keyOf(sr, vdi);
    const now = this.o.clock.now();
    const text = encodeSlot({
      holder: this.o.host,
      state,
      epoch,
      nonce: this.o.nonce(),
      writtenAt: now,
      expiresAt: state === 'held' ? now + this.t.durationMs : now,
    });
    const io = this.io(sr, vdi);
    const prev = this.writes.get(k) ?? Promise.resolve();
    const next = prev.then(
      () => io.write(vdi, this.o.host, text),
      () => io.write(vdi, this.o.host, text),
    );
    const settled = next.catch(() => undefined);
    this.writes.set(k, settled);
    void settled.then(() => {
      if (this.writes.get(k) === settled) this.writes.delete(k);
    });
    return next;
  }

  /**
   * Takes the disk for this host. Waits (up to `waitMs`) while a silent holder's lease runs out;
   * refuses at once when another host is renewing it or a newer epoch has written it.
   */
  async acquire(sr: string, vdi: string, waitMs: number): Promise<void> {
    const mine = this.held.get(keyOf(sr, vdi));
    if (mine !== undefined && !mine.lost) return;
    const epoch = this.o.epoch();
    const seen = await this.waitUntilFree(sr, vdi, epoch, waitMs);
    await this.claim(sr, vdi, epoch, seen);
  }

  /**
   * Reads the disk's slots until every other host's is released or has stayed the same for
   * `durationMs` (this host's clock, from the read that first saw it to the issue of the read
   * that sees it again). Returns the texts of the expired slots.
   */
  private async waitUntilFree(sr: string, vdi: string, epoch: number, waitMs: number) {
    const clock = this.o.clock;
    const giveUpAt = clock.monotonic() + waitMs;
    /** Per other host: the slot text first seen and when (completion of that read). */
    const seen = new Map<string, { text: string; since: number }>();
    for (;;) {
      const issuedAt = clock.monotonic();
      const slots = await this.read(sr, vdi);
      const doneAt = clock.monotonic();
      this.assertEpoch(vdi, slots, epoch);
      let waitFor = 0;
      for (const [holder, { text, slot }] of slots) {
        if (slot?.state === 'released') continue;
        const s = seen.get(holder);
        if (s !== undefined && s.text !== text)
          throw new LeaseError(
            'LEASE_HELD',
            vdi,
            `host ${holder} holds the lease on VDI ${vdi} and is renewing it`,
            holder,
            slot?.epoch ?? 0,
          );
        if (s === undefined) seen.set(holder, { text, since: doneAt });
        // The holder's own duration counts too (a slot states it), so hosts configured with
        // different durations still never overlap.
        const duration = Math.max(
          this.t.durationMs,
          slot === undefined ? 0 : slot.expiresAt - slot.writtenAt,
        );
        waitFor = Math.max(waitFor, (s?.since ?? doneAt) + duration - issuedAt);
      }
      if (waitFor <= 0) return new Map([...seen].map(([h, s]) => [h, s.text]));
      if (clock.monotonic() + waitFor > giveUpAt) {
        const [holder] = [...seen.entries()].sort((a, b) => b[1].since - a[1].since)[0] ?? [''];
        throw new LeaseError(
          'LEASE_HELD',
          vdi,
          `host ${holder} held the lease on VDI ${vdi}; it expires in ${Math.ceil(waitFor / 1000)} s if not renewed`,
          holder,
          slots.get(holder)?.slot?.epoch ?? 0,
          waitFor,
        );
      }
      await sleep(clock, Math.min(waitFor, this.t.renewMs));
    }
  }

  /**
   * Writes this host's slot as held, then reads all slots again: a racing taker, or a holder that
   * came back, shows up here, and this host backs off (releasing its claim).
   */
  private async claim(sr: string, vdi: string, epoch: number, expired: Map<string, string>): Promise<void> {
    const clock = this.o.clock;
    const issuedAt = clock.monotonic();
    try {
      await this.write(sr, vdi, 'held', epoch);
    } catch (e) {
      throw new LeaseError('LEASE_IO', vdi, `cannot write the lease of ${vdi}: ${String(e)}`);
    }
    let conflict: string | undefined;
    try {
      const slots = await this.read(sr, vdi);
      this.assertEpoch(vdi, slots, epoch);
      for (const [holder, { text, slot }] of slots)
        if (slot?.state !== 'released' && expired.get(holder) !== text) conflict = holder;
    } catch (e) {
      await this.write(sr, vdi, 'released', epoch).catch(() => undefined);
      throw e;
    }
    if (conflict !== undefined || clock.monotonic() >= issuedAt + this.t.fenceMs) {
      await this.write(sr, vdi, 'released', epoch).catch(() => undefined);
      if (conflict !== undefined)
        throw new LeaseError(
          'LEASE_HELD',
          vdi,
          `host ${conflict} took VDI ${vdi} at the same time`,
          conflict,
        );
      throw new LeaseError('LEASE_IO', vdi, `the storage took too long to confirm the lease of ${vdi}`);
    }
    this.held.set(keyOf(sr, vdi), {
      sr,
      vdi,
      epoch,
      renewedAt: clock.now(),
      validUntil: issuedAt + this.t.fenceMs,
      lost: false,
    });
  }

  private assertEpoch(
    vdi: string,
    slots: Map<string, { text: string; slot?: LeaseSlot }>,
    epoch: number,
  ): void {
    for (const [holder, { slot }] of slots) {
      if (slot !== undefined && slot.epoch > epoch)
        throw new LeaseError(
          'LEASE_EPOCH_STALE',
          vdi,
          `host ${holder} wrote the lease of VDI ${vdi} in epoch ${slot.epoch}; this host is at ${epoch}`,
          holder,
          slot.epoch,
        );
    }
  }

  /**
   * Resumes a lease this host held before its daemon restarted, for a domain still alive until
   * `validUntil` (monotonic, from its watchdog). Refused when the slot is not this host's `held`.
   */
  async adopt(sr: string, vdi: string, validUntil: number): Promise<boolean> {
    let raw: Map<string, string>;
    try {
      raw = await this.io(sr, vdi).read(vdi);
    } catch {
      return false;
    }
    const own = parseSlot(raw.get(this.o.host) ?? '');
    if (own?.state !== 'held' || this.o.clock.monotonic() >= validUntil) return false;
    for (const [holder, text] of raw) {
      const s = parseSlot(text);
      if (holder !== this.o.host && s !== undefined && s.epoch > this.o.epoch()) return false;
    }
    const k = keyOf(sr, vdi);
    this.held.set(k, { sr, vdi, epoch: own.epoch, renewedAt: own.writtenAt, validUntil, lost: false });
    await this.renew(this.held.get(k) as Held);
    return this.validUntil(sr, vdi) !== undefined;
  }

  /** Gives the disk up; the caller has stopped every domain using it. */
  async release(sr: string, vdi: string): Promise<void> {
    const k = keyOf(sr, vdi);
    const h = this.held.get(k);
    this.held.delete(k);
    await this.write(sr, vdi, 'released', Math.max(h?.epoch ?? 0, this.o.epoch()));
  }

  /** One renewal round: every lease held is rewritten, then deadlines are checked. */
  async renewAll(): Promise<void> {
    await Promise.all([...this.held.values()].filter((h) => !h.lost).map((h) => this.renew(h)));
    await this.checkDeadlines();
  }

  private async renew(h: Held): Promise<void> {
    const clock = this.o.clock;
    const epoch = Math.max(h.epoch, this.o.epoch());
    const issuedAt = clock.monotonic();
    let slots: Map<string, { text: string; slot?: LeaseSlot }>;
    try {
      await this.write(h.sr, h.vdi, 'held', epoch);
      // Counted only if it completed in time: a deadline that passed is final.
      if (h.lost || this.held.get(keyOf(h.sr, h.vdi)) !== h || clock.monotonic() >= h.validUntil) return;
      h.validUntil = Math.max(h.validUntil, issuedAt + this.t.fenceMs);
      h.epoch = epoch;
      h.renewedAt = clock.now();
      this.o.onRenewed?.({ sr: h.sr, vdi: h.vdi }, h.validUntil);
      slots = await this.read(h.sr, h.vdi);
    } catch {
      return; // the deadline approaches; checkDeadlines stops the domains when it passes
    }
    for (const [, { slot }] of slots) {
      if (slot?.state === 'held' && slot.epoch > epoch) {
        await this.lose([h]);
        return;
      }
    }
  }

  /** Leases past their deadline are lost: their domains stop, then the slot says so. */
  async checkDeadlines(): Promise<void> {
    const now = this.o.clock.monotonic();
    await this.lose([...this.held.values()].filter((h) => !h.lost && now >= h.validUntil));
  }

  private async lose(list: Held[]): Promise<void> {
    const fresh = list.filter((h) => !h.lost);
    if (fresh.length === 0) return;
    for (const h of fresh) h.lost = true;
    await this.o.onLost(fresh.map(({ sr, vdi }) => ({ sr, vdi })));
    for (const h of fresh) {
      if (this.held.get(keyOf(h.sr, h.vdi)) === h) this.held.delete(keyOf(h.sr, h.vdi));
      await this.write(h.sr, h.vdi, 'released', h.epoch).catch(() => undefined);
    }
  }
}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
