// Pieces shared by the XML-RPC and JSON-RPC encoders: how xapi prints numbers and escapes text, and
// each record/struct's field list computed once (get_all_records encodes thousands of records, so
// per-field work that does not depend on the value is hoisted here).
import { BugError } from '../base/assert.js';
import type { ClassDef } from '../model/define.js';
import { classDef } from '../model/index.js';
import type { RecordTy, StructTy, Ty, Typed } from '../model/types.js';
import { zeroOf } from '../model/types.js';

/** Finds a class by wire name; injectable so codecs can be tested without the real datamodel. */
export type Resolve = (cls: string) => ClassDef | undefined;
export const defaultResolve: Resolve = (cls) => classDef(cls);

export interface FieldPlan {
  readonly name: string;
  readonly ty: Ty;
  /** Encoded in place of a missing value, so every record of a class has the same field set. */
  readonly zero: unknown;
  /** `<member><name>NAME</name>` */
  readonly xmlHead: string;
  /** `"NAME":` */
  readonly jsonKey: string;
}

const classPlans = new WeakMap<ClassDef, readonly FieldPlan[]>();
const structPlans = new WeakMap<StructTy, readonly FieldPlan[]>();

function makePlan(fields: Iterable<[string, Ty]>): readonly FieldPlan[] {
  const out: FieldPlan[] = [];
  for (const [name, ty] of fields) {
    out.push({ name, ty, zero: zeroOf(ty), xmlHead: `<member><name>${escapeXml(name)}</name>`, jsonKey: `${JSON.stringify(name)}:` });
  }
  return out;
}

/** The fields of a record or struct type in declaration order. */
export function fieldsOf(ty: RecordTy | StructTy, resolve: Resolve): readonly FieldPlan[] {
  if (ty.kind === 'struct') {
    let plan = structPlans.get(ty);
    if (plan === undefined) structPlans.set(ty, (plan = makePlan(Object.entries(ty.fields))));
    return plan;
  }
  const cls = resolve(ty.cls);
  if (cls === undefined) throw new BugError(`no class ${ty.cls} to encode a record`);
  let plan = classPlans.get(cls);
  if (plan === undefined) {
    plan = makePlan(Object.entries(cls.fields).map(([name, f]): [string, Ty] => [name, f.ty]));
    classPlans.set(cls, plan);
  }
  return plan;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads a record/map value; a missing container encodes as empty. */
export function objectOf(v: unknown, what: string): Record<string, unknown> {
  if (isObject(v)) return v;
  if (v === undefined || v === null) return {};
  throw new BugError(`not an object for ${what}: ${typeof v}`);
}

export function arrayOf(v: unknown): readonly unknown[] {
  if (Array.isArray(v)) return v;
  if (v === undefined || v === null) return [];
  throw new BugError(`not an array for a set: ${typeof v}`);
}

/** A `dynamic` value (`{ty, value}`), or undefined when absent, which encodes as void. */
export function typedOf(v: unknown): Typed | undefined {
  if (v === undefined || v === null) return undefined;
  if (isObject(v) && isObject(v['ty']) && typeof v['ty']['kind'] === 'string') return v as unknown as Typed;
  throw new BugError('dynamic value without {ty, value}');
}

export function stringOf(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  throw new BugError(`not a string: ${typeof v}`);
}

const INT_RE = /^-?\d+$/;

/** Decimal text of an int64 held as a number, a bigint or (beyond 2^53) a decimal string. */
export function intText(v: unknown): string {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return String(v);
    // String(1e21) would print an exponent; ints never do on the wire.
    if (Number.isFinite(v)) return BigInt(Math.trunc(v)).toString();
  } else if (typeof v === 'bigint') {
    return v.toString();
  } else if (typeof v === 'string' && INT_RE.test(v)) {
    return v;
  } else if (v === undefined || v === null) {
    return '0';
  }
  throw new BugError(`not an int: ${String(v)}`);
}

export function floatOf(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  if (v === undefined || v === null) return 0;
  throw new BugError(`not a float: ${String(v)}`);
}

function stripZeros(s: string): string {
  if (!s.includes('.')) return s;
  const t = s.replace(/0+$/, '');
  return t.endsWith('.') ? t.slice(0, -1) : t;
}

/** C's `%.{p}g` (OCaml Printf), which xapi uses for floats: 1 → "1", 1e-5 → "1e-05". */
export function formatG(x: number, p: number): string {
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const e = x.toExponential(p - 1);
  const at = e.indexOf('e');
  // The exponent after rounding to p digits decides the style, exactly as C specifies.
  const exp = Number(e.slice(at + 1));
  if (exp < -4 || exp >= p) {
    const sign = exp < 0 ? '-' : '+';
    return `${stripZeros(e.slice(0, at))}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return stripZeros(x.toFixed(p - 1 - exp));
}

// xapi (ocaml-rpc encode_buf) escapes these four and drops control characters other than
// tab/LF/CR, which XML 1.0 cannot carry at all. `'` is left alone, as xapi does.
const XML_SPECIAL = /[<>&"\x00-\x08\x0b\x0c\x0e-\x1f]/;
const XML_SPECIAL_G = /[<>&"\x00-\x08\x0b\x0c\x0e-\x1f]/g;
const XML_ESCAPES: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' };

export function escapeXml(s: string): string {
  return XML_SPECIAL.test(s) ? s.replace(XML_SPECIAL_G, (c) => XML_ESCAPES[c] ?? '') : s;
}
