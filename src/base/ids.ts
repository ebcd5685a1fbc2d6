// Object identities: OpaqueRef:<uuid> references and RFC 4122 version-4 uuids.
import type { Random } from './clock.js';

const REF_PREFIX = 'OpaqueRef:';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function newUuid(random: Random): string {
  const b = random.bytes(16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function newRef(random: Random): string {
  return REF_PREFIX + newUuid(random);
}

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

/** Syntactically a reference (the DB decides whether it names a live object). */
export function isRef(s: string): boolean {
  return s.startsWith(REF_PREFIX) && s.length > REF_PREFIX.length;
}
