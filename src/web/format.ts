// How field values read in the console: references by the name of what they point to, structures
// as JSON, nothing as "—".
import type { Live } from './live.js';

/** A field's value as text: strings as they are, numbers and booleans spelled, structures as JSON. */
export function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return v === undefined || v === null ? '' : JSON.stringify(v);
}

const NAMED = ['host', 'SR', 'VM', 'pool', 'network', 'VDI'];

/** A value for display: a reference becomes the name of its object. */
export function show(live: Live, v: unknown): string {
  if (typeof v === 'string' && v.startsWith('OpaqueRef:')) {
    if (v === 'OpaqueRef:NULL') return '—';
    for (const cls of NAMED) {
      const r = live.get(cls, v);
      if (r !== undefined) return text(r.name_label) || text(r.uuid);
    }
    return v;
  }
  if (Array.isArray(v)) return v.map((x) => show(live, x)).join(', ');
  return text(v);
}

export const isGuest = (vm: Record<string, unknown>) =>
  vm.is_a_template !== true && vm.is_control_domain !== true && vm.is_a_snapshot !== true;

export const byName = (a: [string, Record<string, unknown>], b: [string, Record<string, unknown>]) =>
  text(a[1].name_label).localeCompare(text(b[1].name_label));
