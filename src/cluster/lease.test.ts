// Proves the lease protocol's rules one by one on an in-memory SR: a free disk is taken at once,
// a renewing holder is refused with -1, a silent holder's disk is taken only after the lease
// duration on the taker's clock, a released disk is free at once, a newer epoch refuses an older
// taker and makes an older holder yield, a holder that cannot renew loses its lease at half the
// duration, and a restarted host re-adopts only its own held slots; a holder configured with a
// longer duration than the taker's is waited for as long as its own.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../testing/fake-clock.js';
import { LeaseError, LeaseHost, leaseTiming, type LeaseIo, type LeaseKey } from './lease.js';

const D = 6000;
const A = 'aaaaaaaa-0000-4000-8000-000000000000';
const B = 'bbbbbbbb-0000-4000-8000-000000000000';

class MemorySr implements LeaseIo {
  readonly slots = new Map<string, Map<string, string>>();
  failWrites = false;
  read(vdi: string): Promise<Map<string, string>> {
    return Promise.resolve(new Map(this.slots.get(vdi) ?? []));
  }
  write(vdi: string, holder: string, text: string): Promise<void> {
    if (this.failWrites) return Promise.reject(new Error('storage stalled'));
    const m = this.slots.get(vdi) ?? new Map<string, string>();
    m.set(holder, text);
    this.slots.set(vdi, m);
    return Promise.resolve();
  }
}

function host(name: string, clock: FakeClock, sr: MemorySr, epoch = () => 1, durationMs = D) {
  const lost: LeaseKey[] = [];
  let n = 0;
  const lh = new LeaseHost({
    host: name,
    clock,
    timing: leaseTiming(durationMs),
    io: () => sr,
    epoch,
    nonce: () => `${name}-${n++}`,
    onLost: (keys) => {
      lost.push(...keys);
      return Promise.resolve();
    },
  });
  return { lh, lost };
}

/** Runs `p` while moving the fake clock forward in small steps. */
async function drive<T>(clock: FakeClock, p: Promise<T>, stepMs = 100, maxMs = 60_000): Promise<T> {
  let done = false;
  const r = p.finally(() => (done = true));
  for (let t = 0; !done && t < maxMs; t += stepMs) {
    await new Promise((res) => setImmediate(res));
    if (!done) clock.advance(stepMs);
  }
  return r;
}

async function refusal(p: Promise<unknown>): Promise<LeaseError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LeaseError) return e;
    throw e;
  }
  assert.fail('the lease was granted');
}

void describe('LeaseHost', () => {
  void it('takes a free disk at once and refuses another host while it renews', async () => {
    const clock = new FakeClock();
    const sr = new MemorySr();
    const a = host(A, clock, sr);
    const b = host(B, clock, sr);
    await a.lh.acquire('sr', 'v', 0);
    assert.ok((a.lh.validUntil('sr', 'v') ?? 0) > clock.monotonic());
    // b watches while a renews: a changing slot means a live holder.
    let settled = false;
    const taking = refusal(b.lh.acquire('sr', 'v', 2 * D)).finally(() => (settled = true));
    for (let i = 0; i < 20 && !settled; i++) {
      await new Promise((res) => setImmediate(res));
      clock.advance(1000);
      await a.lh.renewAll();
    }
    const e = await taking;
    assert.equal(e.code, 'LEASE_HELD');
    assert.equal(e.holder, A);
    assert.equal(e.expiresInMs, -1);
    assert.equal(b.lh.validUntil('sr', 'v'), undefined);
  });

  void it("takes a silent holder's disk only after the lease duration, and the holder has lost it by then", async () => {
    const clock = new FakeClock();
    const sr = new MemorySr();
    const a = host(A, clock, sr);
    const b = host(B, clock, sr);
    await a.lh.acquire('sr', 'v', 0);
    const start = clock.monotonic();
    // Without waiting, b is told how long until it expires.
    const e = await refusal(b.lh.acquire('sr', 'v', 0));
    assert.equal(e.code, 'LEASE_HELD');
    assert.equal(e.expiresInMs, D);
    await drive(clock, b.lh.acquire('sr', 'v', 2 * D));
    assert.ok(clock.monotonic() - start >= D, `taken after ${clock.monotonic() - start} ms`);
    await a.lh.checkDeadlines();
    assert.deepEqual(a.lost, [{ sr: 'sr', vdi: 'v' }]);
    assert.equal(a.lh.validUntil('sr', 'v'), undefined);
  });

  void it("waits for the holder's own lease duration when it is the longer one", async () => {
    const clock = new FakeClock();
    const sr = new MemorySr();
    const a = host(A, clock, sr, () => 1, 2 * D);
    const b = host(B, clock, sr);
    await a.lh.acquire('sr', 'v', 0);
    const start = clock.monotonic();
    await drive(clock, b.lh.acquire('sr', 'v', 4 * D));
    assert.ok(clock.monotonic() - start >= 2 * D, `taken after ${clock.monotonic() - start} ms`);
  });

  void it('frees a released disk at once', async () => {
    const clock = new FakeClock();
    const sr = new MemorySr();
    const a = host(A, clock, sr);
    const b = host(B, clock, sr);
    await a.lh.acquire('sr', 'v', 0);
    await a.lh.release('sr', 'v');
    await b.lh.acquire('sr', 'v', 0);
    assert.ok(b.lh.validUntil('sr', 'v') !== undefined);
  });

  void it('refuses a taker from an older epoch, and makes a holder from an older epoch yield', async () => {
    const clock = new FakeClock();
    const sr = new MemorySr();
    let epochA = 1;
    const a = host(A, clock, sr, () => epochA);
    const b = host(B, clock, sr, () => 2);
    await b.lh.acquire('sr', 'new', 0);
    const e = await refusal(a.lh.acquire('sr', 'new', 0));
    assert.equal(e.code, 'LEASE_EPOCH_STALE');
    assert.equal(e.epoch, 2);
    // a holds a disk from epoch 1; b takes it over in epoch 2 once a is silent; a, renewing
    // again, finds the newer epoch and yields at once.
    await a.lh.acquire('sr', 'old', 0);
    await drive(clock, b.lh.acquire('sr', 'old', 2 * D));
    epochA = 1;
    await a.lh.renewAll();
    assert.ok(a.lost.some((k) => k.vdi === 'old'));
  });

  void it('loses the lease at half the duration when renewals fail', async () => {
    const clock = new FakeClock();
    const sr = new MemorySr();
    const a = host(A, clock, sr);
    await a.lh.acquire('sr', 'v', 0);
    sr.failWrites = true;
    clock.advance(D / 2 - 1);
    await a.lh.renewAll();
    assert.deepEqual(a.lost, []);
    clock.advance(1);
    await a.lh.renewAll();
    assert.deepEqual(a.lost, [{ sr: 'sr', vdi: 'v' }]);
    // A renewal that completes after the deadline does not bring it back.
    sr.failWrites = false;
    await a.lh.renewAll();
    assert.equal(a.lh.validUntil('sr', 'v'), undefined);
  });

  void it('re-adopts after a restart only a slot that is still its own and held', async () => {
    const clock = new FakeClock();
    const sr = new MemorySr();
    const a = host(A, clock, sr);
    await a.lh.acquire('sr', 'kept', 0);
    await a.lh.acquire('sr', 'gone', 0);
    await a.lh.release('sr', 'gone');
    const restarted = host(A, clock, sr);
    const until = clock.monotonic() + 1000;
    assert.equal(await restarted.lh.adopt('sr', 'kept', until), true);
    assert.ok((restarted.lh.validUntil('sr', 'kept') ?? 0) > until, 'the renewal extended it');
    assert.equal(await restarted.lh.adopt('sr', 'gone', until), false);
    assert.equal(await restarted.lh.adopt('sr', 'kept-too-late', clock.monotonic()), false);
  });
});
