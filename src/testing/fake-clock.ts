// A manual clock for deterministic tests and the simulator: time moves only when told to.
import type { Clock, Random, Timer } from '../base/clock.js';

interface Pending {
  at: number;
  fn: () => void;
  id: number;
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: Pending[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  monotonic(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const p = { at: this.t + Math.max(0, ms), fn, id: ++this.seq };
    this.timers.push(p);
    return p as unknown as Timer;
  }

  clearTimeout(timer: Timer): void {
    this.timers = this.timers.filter((p) => p !== (timer as unknown as Pending));
  }

  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((p) => p.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((p) => p !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = end;
  }
}

/** xorshift32: a seeded Random so failures replay exactly. */
export class SeededRandom implements Random {
  constructor(private state: number) {
    if (this.state === 0) this.state = 0x9e3779b9;
  }

  private step(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }

  next(): number {
    return this.step() / 2 ** 32;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.step() & 0xff;
    return out;
  }
}
