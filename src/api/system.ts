// The real Clock and Random, used by the daemon. Tests and the simulator inject their own.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Clock, Random } from '../base/clock.js';

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

/**
 * Random bytes are drawn from a pool refilled 4 KiB at a time: one `randomBytes` call costs about
 * as much for 4 KiB as for 16 bytes, and every object creation asks for a uuid. Each byte is handed
 * out once, as a copy, so callers may keep or modify what they get.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolAt = 0;

/** Offset in `pool` of `n` fresh bytes (n ≤ POOL_BYTES). */
function reserve(n: number): number {
  if (poolAt + n > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += n;
  return at;
}

export const cryptoRandom: Random = {
  next: () => pool.readUInt32BE(reserve(4)) / 2 ** 32,
  bytes: (n) => {
    if (n > POOL_BYTES) return randomBytes(n);
    const at = reserve(n);
    return Buffer.from(pool.subarray(at, at + n));
  },
};
