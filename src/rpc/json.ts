// JSON-RPC 1.0 and 2.0 as xapi speaks them (ocaml-rpc jsonrpc.ml). Requests are refused with
// MalformedRequest exactly where xapi answers HTTP 500 Malformed_method_request. Responses are
// built as strings directly from the type descriptors: get_all_records of thousands of records is
// a hot path, and going through an intermediate JS object tree would double the work.
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
  jsonFloat,
  objectOf,
  stringOf,
  typedOf,
} from './codec.js';
import { MalformedRequest } from './errors.js';

export { MalformedRequest } from './errors.js';

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

// ---- encoding as text (ocaml-rpc rpc_to_json, printed compactly by Yojson) ----

function dateString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Date) return formatDateTime(v.getTime());
  if (v === undefined || v === null) return NULL_DATE;
  throw new BugError(`not a datetime: ${typeof v}`);
}

function writeFields(ty: RecordTy | StructTy, v: unknown, resolve: Resolve): string {
  const obj = objectOf(v, ty.kind);
  let out = '{';
  let sep = '';
  for (const f of fieldsOf(ty, resolve)) {
    const x = obj[f.name];
    out += sep + f.jsonKey + writeJson(f.ty, x === undefined ? f.zero : x, resolve);
    sep = ',';
  }
  return out + '}';
}

function writeMap(valueTy: Ty, v: unknown, resolve: Resolve): string {
  const obj = objectOf(v, 'map');
  let out = '{';
  let sep = '';
  for (const k of Object.keys(obj)) {
    out += sep + JSON.stringify(k) + ':' + writeJson(valueTy, obj[k], resolve);
    sep = ',';
  }
  return out + '}';
}

function writeSet(of: Ty, v: unknown, resolve: Resolve): string {
  let out = '[';
  let sep = '';
  for (const x of arrayOf(v)) {
    out += sep + writeJson(of, x, resolve);
    sep = ',';
  }
  return out + ']';
}

/** JSON text of `value` typed `ty`; ints are exact even beyond 2^53 (held as decimal strings). */
export function writeJson(ty: Ty, value: unknown, resolve: Resolve = defaultResolve): string {
  switch (ty.kind) {
    case 'string':
    case 'ref':
    case 'enum':
      return JSON.stringify(stringOf(value));
    case 'int':
    case 'int32':
      return intText(value);
    case 'float':
      return jsonFloat(floatOf(value));
    case 'bool':
      return value === true || value === 1 ? 'true' : 'false';
    case 'datetime':
      return JSON.stringify(dateString(value));
    case 'set':
      return writeSet(ty.of, value, resolve);
    case 'map':
      return writeMap(ty.value, value, resolve);
    case 'record':
    case 'struct':
      return writeFields(ty, value, resolve);
    case 'dynamic': {
      const typed = typedOf(value);
      return typed === undefined ? '""' : writeJson(typed.ty, typed.value, resolve);
    }
    case 'void':
      return '""';
  }
}

// ---- encoding as a JS value (for callers that embed it in something else) ----

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

function intValue(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : Number(intText(v));
}

/**
 * The JSON-ready JS value xapi would send: ints as numbers (beyond 2^53 they lose precision here;
 * `writeJson` keeps them exact), records/structs complete in declaration order, dynamic unwrapped.
 */
export function encodeJsonValue(ty: Ty, value: unknown, resolve: Resolve = defaultResolve): unknown {
  switch (ty.kind) {
    case 'string':
    case 'ref':
    case 'enum':
      return stringOf(value);
    case 'int':
    case 'int32':
      return intValue(value);
    case 'float': {
      const x = floatOf(value);
      return Number.isFinite(x) ? x : null;
    }
    case 'bool':
      return value === true || value === 1;
    case 'datetime':
      return dateString(value);
    case 'set':
      return arrayOf(value).map((x) => encodeJsonValue(ty.of, x, resolve));
    case 'map': {
      const obj = objectOf(value, 'map');
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(obj)) setOwn(out, k, encodeJsonValue(ty.value, obj[k], resolve));
      return out;
    }
    case 'record':
    case 'struct': {
      const obj = objectOf(value, ty.kind);
      const out: Record<string, unknown> = {};
      for (const f of fieldsOf(ty, resolve)) {
        const x = obj[f.name];
        setOwn(out, f.name, encodeJsonValue(f.ty, x === undefined ? f.zero : x, resolve));
      }
      return out;
    }
    case 'dynamic': {
      const typed = typedOf(value);
      return typed === undefined ? '' : encodeJsonValue(typed.ty, typed.value, resolve);
    }
    case 'void':
      return '';
  }
}

// ---- envelopes (ocaml-rpc json_of_response; xapi api_server.ml error objects) ----

export function encodeJsonSuccess(
  version: JsonRpcVersion,
  id: string | number,
  ty: Ty,
  value: unknown,
  resolve: Resolve = defaultResolve,
): string {
  const result = writeJson(ty, value, resolve);
  const idText = JSON.stringify(id);
  return version === '2.0'
    ? `{"jsonrpc":"2.0","result":${result},"id":${idText}}`
    : `{"result":${result},"error":null,"id":${idText}}`;
}

/** xapi's v2 error code is always 1 (`error_code_lit`): some clients read 0 as success. */
export function encodeJsonFailure(version: JsonRpcVersion, id: string | number, code: string, params: readonly string[]): string {
  const idText = JSON.stringify(id);
  return version === '2.0'
    ? `{"jsonrpc":"2.0","error":{"code":1,"message":${JSON.stringify(code)},"data":${JSON.stringify(params)}},"id":${idText}}`
    : `{"result":null,"error":${JSON.stringify([code, ...params])},"id":${idText}}`;
}
