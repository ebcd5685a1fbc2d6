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

/** Builds an object with every field of a plan, in order; `value(i, x)` converts field i's value x. */
export type ObjectBuilder = (
  o: Record<string, unknown>,
  value: (i: number, x: unknown) => unknown,
) => Record<string, unknown>;

export interface Plan {
  readonly fields: readonly FieldPlan[];
  readonly build: ObjectBuilder;
  /**
   * Encoded text of whole records of this class, keyed by the record object. Sound because the DB
   * never mutates a stored record: every commit stores a new object (copy-on-write, see db.ts),
   * so an object's encoding never changes and a replaced record's entry dies with it. Only
   * `record` values (class records) use these; structs are built fresh per reply.
   */
  readonly jsonText: WeakMap<object, string>;
  readonly xmlText: WeakMap<object, string>;
}

const classPlans = new WeakMap<ClassDef, Plan>();
const structPlans = new WeakMap<StructTy, Plan>();

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function loopBuilder(names: readonly string[]): ObjectBuilder {
  return (o, value) => {
    const out: Record<string, unknown> = {};
    names.forEach((n, i) => {
      Object.defineProperty(out, n, {
        value: value(i, o[n]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    });
    return out;
  };
}

/**
 * An object literal naming every field gives V8 one fixed shape per class. Adding ~90 keys one by
 * one instead drops each record into dictionary mode, which made JSON get_all_records ~6x slower
 * (building and stringifying). The keys are the datamodel's own field names, not input, and are
 * quoted with JSON.stringify; anything unusual falls back to the plain loop.
 */
function compileBuilder(names: readonly string[]): ObjectBuilder {
  if (names.some((n) => n === '__proto__' || !PLAIN_KEY.test(n))) return loopBuilder(names);
  const body = names.map((n, i) => `${JSON.stringify(n)}: value(${i}, o[${JSON.stringify(n)}])`).join(',');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- see above: datamodel names only
  return new Function('o', 'value', `return {${body}};`) as ObjectBuilder;
}

function makePlan(fields: Iterable<[string, Ty]>): Plan {
  const out: FieldPlan[] = [];
  for (const [name, ty] of fields) {
    out.push({
      name,
      ty,
      zero: zeroOf(ty),
      xmlHead: `<member><name>${escapeXml(name)}</name>`,
      jsonKey: `${JSON.stringify(name)}:`,
    });
  }
  return {
    fields: out,
    build: compileBuilder(out.map((f) => f.name)),
    jsonText: new WeakMap(),
    xmlText: new WeakMap(),
  };
}

/** The fields of a record or struct type in declaration order, with their compiled builder. */
export function planOf(ty: RecordTy | StructTy, resolve: Resolve): Plan {
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

export function fieldsOf(ty: RecordTy | StructTy, resolve: Resolve): readonly FieldPlan[] {
  return planOf(ty, resolve).fields;
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
  throw new BugError(`not an int: ${typeof v}`);
}

export function floatOf(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  if (v === undefined || v === null) return 0;
  throw new BugError(`not a float: ${typeof v}`);
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
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const XML_SPECIAL = /[<>&"\x00-\x08\x0b\x0c\x0e-\x1f]/;
// eslint-disable-next-line no-control-regex -- as above
const XML_SPECIAL_G = /[<>&"\x00-\x08\x0b\x0c\x0e-\x1f]/g;
const XML_ESCAPES: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' };

export function escapeXml(s: string): string {
  return XML_SPECIAL.test(s) ? s.replace(XML_SPECIAL_G, (c) => XML_ESCAPES[c] ?? '') : s;
}
