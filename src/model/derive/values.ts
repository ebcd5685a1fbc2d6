// Checking and coercing values against their `Ty`. `coerce` is the API boundary (it accepts what
// real clients send: numeric strings for ints, 0/1 for bools) and names the offending parameter;
// `conforms` is the DB's pair assertion on records it writes and reads back.
import { formatDateTime, parseDateTime } from '../../base/clock.js';
import { limits } from '../../base/limits.js';
import type { ClassDef, FieldDef } from '../define.js';
import { ApiError } from '../errors.js';
import type { Ty } from '../types.js';
import { zeroOf } from '../types.js';

export type Resolve = (cls: string) => ClassDef | undefined;

function typeError(path: string): ApiError {
  return new ApiError('FIELD_TYPE_ERROR', [path]);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Converts a decoded wire value to the canonical JS value of `ty`, or throws FIELD_TYPE_ERROR. */
export function coerce(ty: Ty, v: unknown, path: string, resolve: Resolve): unknown {
  switch (ty.kind) {
    case 'string':
      if (typeof v !== 'string') throw typeError(path);
      if (v.length > limits.stringParamBytesMax) throw new ApiError('INVALID_VALUE', [path, 'too long']);
      return v;
    case 'ref':
      if (typeof v !== 'string') throw typeError(path);
      return v;
    case 'enum': {
      if (typeof v !== 'string') throw typeError(path);
      // xapi matches enum names case-insensitively on input.
      const hit = ty.values.find((x) => x.toLowerCase() === v.toLowerCase());
      if (hit === undefined) throw new ApiError('INVALID_VALUE', [path, v]);
      return hit;
    }
    case 'int':
    case 'int32':
      return coerceInt(v, path);
    case 'float': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (!Number.isFinite(n)) throw typeError(path);
      return n;
    }
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === '1' || v === 1) return true;
      if (v === 'false' || v === '0' || v === 0) return false;
      throw typeError(path);
    case 'datetime': {
      const ms = typeof v === 'string' ? parseDateTime(v) : typeof v === 'number' ? v * 1000 : NaN;
      if (!Number.isFinite(ms)) throw typeError(path);
      return formatDateTime(ms);
    }
    case 'set':
      if (!Array.isArray(v)) throw typeError(path);
      return v.map((x, i) => coerce(ty.of, x, `${path}[${i}]`, resolve));
    case 'map': {
      if (!isPlainObject(v)) throw typeError(path);
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const key = String(coerce(ty.key, k, `${path} key`, resolve));
        const value = coerce(ty.value, x, `${path}.${k}`, resolve);
        // A `__proto__` key must stay an own entry; plain assignment would drop it silently.
        if (key === '__proto__')
          Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
        else out[key] = value;
      }
      return out;
    }
    case 'record':
      return coerceRecordPartial(ty.cls, v, path, resolve);
    case 'struct': {
      if (!isPlainObject(v)) throw typeError(path);
      const out: Record<string, unknown> = {};
      for (const [k, fty] of Object.entries(ty.fields)) out[k] = coerce(fty, v[k], `${path}.${k}`, resolve);
      return out;
    }
    case 'void':
      return undefined;
    case 'dynamic':
      return v;
  }
}

function coerceInt(v: unknown, path: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) {
    const n = Number(v.trim());
    if (Number.isSafeInteger(n)) return n;
  }
  throw typeError(path);
}

/**
 * A record argument (VM.create etc.): known fields are coerced, unknown fields rejected, absent
 * fields left out so the caller's defaults apply.
 */
function coerceRecordPartial(
  cls: string,
  v: unknown,
  path: string,
  resolve: Resolve,
): Record<string, unknown> {
  const def = resolve(cls);
  if (def === undefined || !isPlainObject(v)) throw typeError(path);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const f = def.fields[k];
    // xapi ignores unknown members of a create record; so do we, for old/new clients alike.
    if (f === undefined) continue;
    out[k] = coerce(f.ty, x, k, resolve);
  }
  return out;
}

type Check = (v: unknown) => boolean;

/**
 * `ty`'s conformance test as a function, made once per type and resolver. Loading or restoring a
 * large database checks every field of every row; a switch on the type per value was most of that.
 */
function checkOf(ty: Ty, resolve: Resolve): Check {
  return memo(checks, resolve, ty, () => makeCheck(ty, resolve));
}

const checks = new WeakMap<Resolve, WeakMap<Ty, Check>>();

/** The value made once per (resolver, key) pair. */
function memo<K extends object, V>(
  cache: WeakMap<Resolve, WeakMap<K, V>>,
  resolve: Resolve,
  key: K,
  make: () => V,
): V {
  let byKey = cache.get(resolve);
  if (byKey === undefined) {
    byKey = new WeakMap();
    cache.set(resolve, byKey);
  }
  let v = byKey.get(key);
  if (v === undefined) {
    v = make();
    byKey.set(key, v);
  }
  return v;
}

function makeCheck(ty: Ty, resolve: Resolve): Check {
  switch (ty.kind) {
    case 'string':
    case 'ref':
    case 'datetime':
      return (v) => typeof v === 'string';
    case 'enum': {
      const values = new Set<unknown>(ty.values);
      return (v) => typeof v === 'string' && values.has(v);
    }
    case 'int':
    case 'int32':
      return (v) => typeof v === 'number' && Number.isSafeInteger(v);
    case 'float':
      return (v) => typeof v === 'number' && !Number.isNaN(v);
    case 'bool':
      return (v) => typeof v === 'boolean';
    case 'set': {
      const of = checkOf(ty.of, resolve);
      return (v) => Array.isArray(v) && v.every(of);
    }
    case 'map': {
      const value = checkOf(ty.value, resolve);
      return (v) => {
        if (!isPlainObject(v)) return false;
        for (const k in v) if (Object.hasOwn(v, k) && !value(v[k])) return false;
        return true;
      };
    }
    case 'record':
      return (v) => {
        const def = resolve(ty.cls);
        return def !== undefined && isPlainObject(v) && recordConforms(def, v, resolve) === undefined;
      };
    case 'struct': {
      const fields = Object.entries(ty.fields).map(([k, f]) => [k, checkOf(f, resolve)] as const);
      return (v) => isPlainObject(v) && fields.every(([k, c]) => c(v[k]));
    }
    case 'void':
      return (v) => v === undefined || v === '';
    case 'dynamic':
      return () => true;
  }
}

/** True when `v` is exactly the canonical representation of `ty`. */
export function conforms(ty: Ty, v: unknown, resolve: Resolve): boolean {
  return checkOf(ty, resolve)(v);
}

interface FieldChecks {
  list: readonly (readonly [string, Check])[];
  byName: ReadonlyMap<string, Check>;
  /** No field's check accepts `undefined`: a record that passes them all has every field. */
  allRequired: boolean;
}

/** A class's fields with their checks, made once per class and resolver. */
function fieldChecks(def: ClassDef, resolve: Resolve): FieldChecks {
  return memo(fieldCheckLists, resolve, def, () => {
    const list = fieldList(def).map(([k, f]) => [k, checkOf(f.ty, resolve)] as const);
    return { list, byName: new Map(list), allRequired: list.every(([, c]) => !c(undefined)) };
  });
}

const fieldCheckLists = new WeakMap<Resolve, WeakMap<ClassDef, FieldChecks>>();

/** The first field of `rec` that does not conform to class `def`, or undefined. */
export function recordConforms(
  def: ClassDef,
  rec: Record<string, unknown>,
  resolve: Resolve,
): string | undefined {
  const fc = fieldChecks(def, resolve);
  for (const [k, check] of fc.list) if (!check(rec[k])) return k;
  const keys = Object.keys(rec);
  // Every field is present, so as many keys as fields means no unknown one.
  if (fc.allRequired && keys.length === fc.list.length) return undefined;
  for (const k of keys) if (!Object.hasOwn(def.fields, k)) return k;
  return undefined;
}

/**
 * What recordConforms(def, withDefaults(def, body)) says, without building the complete record:
 * the first field present that does not conform, or that the class does not have (fields that
 * are absent take their defaults, which conform). Used on every row of a restored dump.
 */
export function bodyConforms(
  def: ClassDef,
  body: Record<string, unknown>,
  resolve: Resolve,
): string | undefined {
  const checks = fieldChecks(def, resolve).byName;
  // Over the keys the body has (for-in reads each value from the object's own layout, fast), each
  // looked up among the class's fields: a key that is not one, `__proto__` included, is refused.
  for (const k in body) {
    const check = checks.get(k);
    if (check === undefined || !check(body[k])) return k;
  }
  return undefined;
}

/** A complete record of `def`: the given fields over each field's default. */
export function withDefaults(def: ClassDef, given: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(def.fields)) {
    const v = k in given ? given[k] : f.default !== undefined ? f.default : zeroOf(f.ty);
    out[k] = structuredCloneIfNeeded(v);
  }
  return out;
}

/**
 * As withDefaults, for a `given` the caller owns outright (freshly parsed JSON): its values are
 * taken as they are, not copied, and only the defaults are.
 */
export function withDefaultsOwned(def: ClassDef, given: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of fieldList(def)) {
    if (f.persist && k in given) out[k] = given[k];
    else out[k] = structuredCloneIfNeeded(f.default !== undefined ? f.default : zeroOf(f.ty));
  }
  return out;
}

/**
 * Completes `body` in place into a record: the persistent fields a master sent (it wrote all of
 * them, in this same model) stay as they are; the memory-only ones get their defaults. Every key
 * of `body` must be a field of `def` (a master's row, or one checkRows passed).
 */
export function completeInPlace(def: ClassDef, body: Record<string, unknown>): Record<string, unknown> {
  const { memoryOnly, persisted } = fieldSplit(def);
  // The usual case, without a lookup per field: only known keys, none memory-only, as many as
  // the persistent fields, so every persistent field is there.
  if (Object.keys(body).length === persisted && memoryOnly.every(([k]) => !Object.hasOwn(body, k))) {
    for (const [k, f] of memoryOnly) body[k] = defaultOf(f);
    return body;
  }
  for (const [k, f] of fieldList(def)) if (!f.persist || !(k in body)) body[k] = defaultOf(f);
  return body;
}

/** A fresh copy of the field's default value. */
function defaultOf(f: FieldDef): unknown {
  return structuredCloneIfNeeded(f.default !== undefined ? f.default : zeroOf(f.ty));
}

const fieldSplits = new WeakMap<ClassDef, { memoryOnly: [string, FieldDef][]; persisted: number }>();

function fieldSplit(def: ClassDef): { memoryOnly: [string, FieldDef][]; persisted: number } {
  let s = fieldSplits.get(def);
  if (s === undefined) {
    const all = fieldList(def);
    s = { memoryOnly: all.filter(([, f]) => !f.persist), persisted: all.filter(([, f]) => f.persist).length };
    fieldSplits.set(def, s);
  }
  return s;
}

const fieldLists = new WeakMap<ClassDef, [string, FieldDef][]>();

/** A class's fields as a list, made once (loading a large database walks it per row). */
function fieldList(def: ClassDef): [string, FieldDef][] {
  let l = fieldLists.get(def);
  if (l === undefined) {
    l = Object.entries(def.fields);
    fieldLists.set(def, l);
  }
  return l;
}

/** Defaults are shared constants; copy the mutable ones so no two records share an array. */
function structuredCloneIfNeeded(v: unknown): unknown {
  if (Array.isArray(v)) return [...(v as unknown[])];
  if (isPlainObject(v)) return { ...v };
  return v;
}
