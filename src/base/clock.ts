// Time and randomness are injected so safety logic and the simulator stay deterministic. Only
// composition roots (src/bin) construct the real ones.

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Monotonic milliseconds, for measuring intervals. */
  monotonic(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(timer: Timer): void;
}

export interface Timer {
  unref?(): unknown;
}

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array;
}

/** XenAPI datetime wire form: `YYYYMMDDTHH:MM:SSZ`. */
export function formatDateTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}` +
    `T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}Z`
  );
}

/**
 * Parses both xapi's `YYYYMMDDTHH:MM:SSZ` and RFC 3339 / ISO 8601 (`2024-01-01T00:00:00.000Z`).
 * Returns NaN when the text is neither.
 */
export function parseDateTime(text: string): number {
  const compact = /^(\d{4})(\d{2})(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(text);
  if (compact) {
    const [, y, mo, d, h, mi, s, zone] = compact;
    const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}${zone === undefined ? 'Z' : zone}`;
    return Date.parse(iso);
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.test(text)) return Date.parse(text);
  return NaN;
}
