// JSON-RPC 1.0 and 2.0 as xapi speaks them (ocaml-rpc jsonrpc.ml). Requests are refused with
// MalformedRequest exactly where xapi answers HTTP 500 Malformed_method_request. Responses are
// type-directed: records complete and in declaration order, ints as JSON numbers.
import { formatDateTime } from '../base/clock.js';
import { BugError } from '../base/assert.js';
import type { RecordTy, StructTy, Ty } from '../model/types.js';
import { NULL_DATE } from '../model/types.js';
import type { Resolve } from './codec.js';
import {
  arrayOf,
  defaultResolve,
  fieldsOf,
  floatOf,
  intText,
  isObject,
  objectOf,
  planOf,
  stringOf,
  typedOf,
} from './codec.js';
import { MalformedRequest } from './errors.js';

export { MalformedRequest } from './errors.js';
export type { Resolve } from './codec.js';

export type JsonRpcVersion = '1.0' | '2.0';

export interface JsonRpcRequest {
  version: JsonRpcVersion;
  id: string | number;
  method: string;
  params: unknown[];
}

/** Follows ocaml-rpc `version_id_and_call_of_string`: what it rejects, we reject. */
export function parseJsonRpcRequest(body: string): JsonRpcRequest {
  let msg: unknown;
  try {
    msg = JSON.parse(body);
  } catch {
    throw new MalformedRequest('invalid JSON');
  }
  if (!isObject(msg)) throw new MalformedRequest('request is not an object');
  const { method, jsonrpc, id } = msg;
  if (typeof method !== 'string') throw new MalformedRequest("invalid field 'method'");
  let version: JsonRpcVersion;
  if (jsonrpc === undefined) version = '1.0';
  else if (jsonrpc === '2.0') version = '2.0';
  else throw new MalformedRequest("invalid field 'jsonrpc'");
  const params = paramsOf(version, msg['params']);
  // A null or missing id is a notification, which xapi does not serve.
  if (!(typeof id === 'string' || Number.isInteger(id))) throw new MalformedRequest("invalid field 'id'");
  return { version, id: id as string | number, method, params };
}

function paramsOf(version: JsonRpcVersion, params: unknown): unknown[] {
  if (Array.isArray(params)) return params;
  if (version === '2.0') {
    if (params === undefined || params === null) return [];
    // A by-name object is passed on as a single parameter, as xapi does.
    if (isObject(params)) return [params];
  }
  throw new MalformedRequest("invalid field 'params'");
}

// ---- encoding ----
// The fast path projects the stored value onto its JSON shape (records in declaration order and
// complete; sets and maps whose members are already JSON reused as they are, not copied) and lets
// the native JSON.stringify print it: 2-3x faster than concatenating text for get_all_records.
// Floats print as JS does (1, not Yojson's 1.0): the same number for every JSON parser.

/**
 * Thrown by `project` when an int64 cannot be a JS number exactly; the text encoder takes over.
 * Preallocated: it is control flow, so no stack trace is wanted.
 */
const INEXACT = new Error('int64 beyond 2^53');

function isString(x: unknown): boolean {
  return typeof x === 'string';
}
function isBoolean(x: unknown): boolean {
  return typeof x === 'boolean';
}

/** For scalar types, a test that a stored value is already its own JSON form. */
function nativeTest(ty: Ty): ((x: unknown) => boolean) | undefined {
  switch (ty.kind) {
    case 'string':
    case 'ref':
    case 'enum':
    case 'datetime':
      return isString;
    case 'int':
    case 'int32':
      return Number.isSafeInteger;
    case 'float':
      return Number.isFinite;
    case 'bool':
      return isBoolean;
    default:
      return undefined;
  }
}

function allPass(test: (x: unknown) => boolean, a: readonly unknown[]): boolean {
  for (let i = 0; i < a.length; i++) if (!test(a[i])) return false;
  return true;
}

function allValuesPass(test: (x: unknown) => boolean, o: Record<string, unknown>): boolean {
  for (const k in o) if (!test(o[k])) return false;
  return true;
}

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

function dateString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Date) return formatDateTime(v.getTime());
  if (v === undefined || v === null) return NULL_DATE;
  throw new BugError(`not a datetime: ${typeof v}`);
}

function intNumber(v: unknown, exact: boolean): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  const n = Number(intText(v));
  if (exact && !Number.isSafeInteger(n)) throw INEXACT;
  return n;
}

function projectSet(of: Ty, v: unknown, resolve: Resolve, exact: boolean): unknown[] {
  const a = arrayOf(v);
  const test = nativeTest(of);
  if (test !== undefined && allPass(test, a)) return a as unknown[];
  return a.map((x) => project(of, x, resolve, exact));
}

function projectMap(valueTy: Ty, v: unknown, resolve: Resolve, exact: boolean): Record<string, unknown> {
  const obj = objectOf(v, 'map');
  const test = nativeTest(valueTy);
  if (test !== undefined && allValuesPass(test, obj)) return obj;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) setOwn(out, k, project(valueTy, obj[k], resolve, exact));
  return out;
}

function projectFields(
  ty: RecordTy | StructTy,
  v: unknown,
  resolve: Resolve,
  exact: boolean,
): Record<string, unknown> {
  const { fields, build } = planOf(ty, resolve);
  return build(objectOf(v, ty.kind), (i, x) => {
    const f = fields[i];
    if (f === undefined) throw new BugError(`field ${i} of ${ty.kind}`);
    return project(f.ty, x === undefined ? f.zero : x, resolve, exact);
  });
}

function project(ty: Ty, value: unknown, resolve: Resolve, exact: boolean): unknown {
  switch (ty.kind) {
    case 'string':
    case 'ref':
    case 'enum':
      return typeof value === 'string' ? value : stringOf(value);
    case 'int':
    case 'int32':
      return intNumber(value, exact);
    case 'float': {
      const x = floatOf(value);
      return Number.isFinite(x) ? x : null;
    }
    case 'bool':
      return value === true || value === 1;
    case 'datetime':
      return dateString(value);
    case 'set':
      return projectSet(ty.of, value, resolve, exact);
    case 'map':
      return projectMap(ty.value, value, resolve, exact);
    case 'record':
    case 'struct':
      return projectFields(ty, value, resolve, exact);
    case 'dynamic': {
      const typed = typedOf(value);
      return typed === undefined ? '' : project(typed.ty, typed.value, resolve, exact);
    }
    case 'void':
      return '';
  }
}

/**
 * The JSON-ready JS value xapi would send: ints as numbers, records/structs complete in
 * declaration order, dynamic unwrapped, void as "". Ints beyond 2^53 lose precision here (a JS
 * number cannot hold them); `writeJson` and the envelopes keep them exact. Containers that are
 * already in JSON form are shared with `value`, not copied.
 */
export function encodeJsonValue(ty: Ty, value: unknown, resolve: Resolve = defaultResolve): unknown {
  return project(ty, value, resolve, false);
}

function writeSeq(parts: Iterable<string>, open: string, close: string): string {
  let out = open;
  let sep = '';
  for (const p of parts) {
    out += sep + p;
    sep = ',';
  }
  return out + close;
}

function* mapEntries(valueTy: Ty, v: unknown, resolve: Resolve): Generator<string> {
  const obj = objectOf(v, 'map');
  for (const k of Object.keys(obj)) yield JSON.stringify(k) + ':' + writeJson(valueTy, obj[k], resolve);
}

function* fieldEntries(ty: RecordTy | StructTy, v: unknown, resolve: Resolve): Generator<string> {
  const obj = objectOf(v, ty.kind);
  for (const f of fieldsOf(ty, resolve)) {
    const x = obj[f.name];
    yield f.jsonKey + writeJson(f.ty, x === undefined ? f.zero : x, resolve);
  }
}

/**
 * JSON text of `value` typed `ty`, built piece by piece so ints beyond 2^53 (held as decimal
 * strings or bigints) print exactly as xapi's `Intlit`. Slower; the envelopes use it only then.
 */
export function writeJson(ty: Ty, value: unknown, resolve: Resolve = defaultResolve): string {
  switch (ty.kind) {
    case 'int':
    case 'int32':
      return intText(value);
    case 'set':
      return writeSeq(
        arrayOf(value).map((x) => writeJson(ty.of, x, resolve)),
        '[',
        ']',
      );
    case 'map':
      return writeSeq(mapEntries(ty.value, value, resolve), '{', '}');
    case 'record':
    case 'struct':
      return writeSeq(fieldEntries(ty, value, resolve), '{', '}');
    case 'dynamic': {
      const typed = typedOf(value);
      return typed === undefined ? '""' : writeJson(typed.ty, typed.value, resolve);
    }
    default:
      return JSON.stringify(project(ty, value, resolve, true));
  }
}

/** JSON text of a value that holds no records: the fast native path, or exact text when an int64 needs it. */
function leafText(ty: Ty, value: unknown, resolve: Resolve): string {
  try {
    return JSON.stringify(project(ty, value, resolve, true));
  } catch (e) {
    if (e === INEXACT) return writeJson(ty, value, resolve);
    throw e;
  }
}

/** JSON text of one class record, cached per record object (see `Plan.jsonText`). */
function recordText(ty: RecordTy, value: unknown, resolve: Resolve): string {
  const plan = planOf(ty, resolve);
  const obj = objectOf(value, 'record');
  let text = plan.jsonText.get(obj);
  if (text === undefined) {
    text = leafText(ty, obj, resolve);
    plan.jsonText.set(obj, text);
  }
  return text;
}

const mayHoldRecordMemo = new WeakMap<Ty, boolean>();

/** Whether a value of `ty` can contain a class record (dynamic values might). */
function mayHoldRecord(ty: Ty): boolean {
  switch (ty.kind) {
    case 'record':
    case 'dynamic':
      return true;
    case 'set':
      return mayHoldRecord(ty.of);
    case 'map':
      return mayHoldRecord(ty.value);
    case 'struct': {
      let m = mayHoldRecordMemo.get(ty);
      if (m === undefined) {
        m = Object.values(ty.fields).some(mayHoldRecord);
        mayHoldRecordMemo.set(ty, m);
      }
      return m;
    }
    default:
      return false;
  }
}

/**
 * Appends the JSON text of `value` to `out` in pieces. Records come from the per-record cache;
 * containers around them are written here; everything else goes through `leafText`. The pieces
 * join to exactly what `leafText` would print for the whole value: `JSON.stringify` of the
 * projection and `writeJson` print the same bytes wherever both apply, and the int64 fallback is
 * taken per record instead of per reply.
 */
function writeParts(ty: Ty, value: unknown, resolve: Resolve, out: string[]): void {
  if (!mayHoldRecord(ty)) {
    out.push(leafText(ty, value, resolve));
    return;
  }
  switch (ty.kind) {
    case 'record':
      out.push(recordText(ty, value, resolve));
      return;
    case 'set': {
      out.push('[');
      let sep = '';
      for (const x of arrayOf(value)) {
        if (sep !== '') out.push(sep);
        writeParts(ty.of, x, resolve, out);
        sep = ',';
      }
      out.push(']');
      return;
    }
    case 'map': {
      const obj = objectOf(value, 'map');
      let sep = '{';
      for (const k of Object.keys(obj)) {
        out.push(sep + JSON.stringify(k) + ':');
        writeParts(ty.value, obj[k], resolve, out);
        sep = ',';
      }
      out.push(sep === '{' ? '{}' : '}');
      return;
    }
    case 'struct': {
      const obj = objectOf(value, 'struct');
      let sep = '{';
      for (const f of fieldsOf(ty, resolve)) {
        const x = obj[f.name];
        out.push(sep + f.jsonKey);
        writeParts(f.ty, x === undefined ? f.zero : x, resolve, out);
        sep = ',';
      }
      out.push(sep === '{' ? '{}' : '}');
      return;
    }
    case 'dynamic': {
      const typed = typedOf(value);
      if (typed === undefined) out.push('""');
      else writeParts(typed.ty, typed.value, resolve, out);
      return;
    }
    default:
      out.push(leafText(ty, value, resolve));
  }
}

// ---- envelopes (ocaml-rpc json_of_response; xapi api_server.ml error objects) ----

/**
 * The success envelope as pieces that join to the reply: large results (get_all_records) are
 * mostly cached record texts, which the HTTP server writes out without building one big string.
 */
export function encodeJsonSuccessParts(
  version: JsonRpcVersion,
  id: string | number,
  ty: Ty,
  value: unknown,
  resolve: Resolve = defaultResolve,
): string[] {
  const out = [version === '2.0' ? '{"jsonrpc":"2.0","result":' : '{"result":'];
  writeParts(ty, value, resolve, out);
  const idText = JSON.stringify(id);
  out.push(version === '2.0' ? `,"id":${idText}}` : `,"error":null,"id":${idText}}`);
  return out;
}

export function encodeJsonSuccess(
  version: JsonRpcVersion,
  id: string | number,
  ty: Ty,
  value: unknown,
  resolve: Resolve = defaultResolve,
): string {
  return encodeJsonSuccessParts(version, id, ty, value, resolve).join('');
}

/** xapi's v2 error code is always 1 (`error_code_lit`): some clients read 0 as success. */
export function encodeJsonFailure(
  version: JsonRpcVersion,
  id: string | number,
  code: string,
  params: readonly string[],
): string {
  const idText = JSON.stringify(id);
  return version === '2.0'
    ? `{"jsonrpc":"2.0","error":{"code":1,"message":${JSON.stringify(code)},"data":${JSON.stringify(params)}},"id":${idText}}`
    : `{"result":null,"error":${JSON.stringify([code, ...params])},"id":${idText}}`;
}
