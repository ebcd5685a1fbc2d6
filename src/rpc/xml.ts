// XML-RPC as xapi speaks it. Parsing is tolerant in the ways real clients need (Python's
// xmlrpc.client indents and uses <string>/<int>; npm xen-api sends bare strings) and strict
// everywhere else: anything odd is MalformedRequest, which the server turns into xapi's HTTP 500.
// Encoding is type-directed and byte-for-byte ocaml-rpc's: compact, bare strings, int64 as bare
// text, because npm xen-api's sax-based parser crashes on whitespace between tags and on <i8>.
import { formatDateTime, parseDateTime } from '../base/clock.js';
import { BugError } from '../base/assert.js';
import type { RecordTy, StructTy, Ty } from '../model/types.js';
import { NULL_DATE } from '../model/types.js';
import type { Resolve } from './codec.js';
import {
  arrayOf,
  defaultResolve,
  escapeXml,
  floatOf,
  formatG,
  intText,
  isObject,
  objectOf,
  planOf,
  stringOf,
  typedOf,
} from './codec.js';
import { MalformedRequest } from './errors.js';
import { parseXmlTree, type XmlEl } from './xml-tree.js';

export { MalformedRequest } from './errors.js';
export type { Resolve } from './codec.js';

function fail(why: string): never {
  throw new MalformedRequest(why);
}

function isBlank(s: string): boolean {
  return /^[ \t\r\n]*$/.test(s);
}

/** The element children of `el`; text between them must be whitespace (indentation). */
function elementsOf(el: XmlEl): XmlEl[] {
  const out: XmlEl[] = [];
  for (const k of el.kids) {
    if (typeof k !== 'string') out.push(k);
    else if (!isBlank(k)) fail(`unexpected text in <${el.name}>`);
  }
  return out;
}

/** The text content of a leaf element, verbatim ('' when empty). */
function textOf(el: XmlEl): string {
  let s = '';
  for (const k of el.kids) {
    if (typeof k !== 'string') fail(`unexpected <${k.name}> in <${el.name}>`);
    s += k;
  }
  return s;
}

function only(el: XmlEl, name: string): XmlEl {
  const kids = elementsOf(el);
  const first = kids[0];
  if (kids.length !== 1 || first === undefined || first.name !== name)
    fail(`<${el.name}> must hold one <${name}>`);
  return first;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** xapi reads int/i4/i8 as int64; beyond 2^53 we keep the exact decimal string. */
function parseInt64(text: string): number | string {
  const s = text.trim();
  if (!/^[+-]?\d+$/.test(s)) fail(`bad int ${JSON.stringify(text)}`);
  const n = Number(s);
  if (Number.isSafeInteger(n)) return n === 0 ? 0 : n;
  const big = BigInt(s);
  if (big < INT64_MIN || big > INT64_MAX) fail(`int out of int64 range: ${s}`);
  return big.toString();
}

function parseDouble(text: string): number {
  const s = text.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) fail(`bad double ${JSON.stringify(text)}`);
  return Number(s);
}

function parseBoolean(text: string): boolean {
  const s = text.trim();
  if (s === '1') return true;
  if (s === '0') return false;
  return fail(`bad boolean ${JSON.stringify(text)}`);
}

/** Both xapi's `20240101T00:00:00Z` and ISO forms, normalised to xapi's. */
function parseDate(text: string): string {
  const ms = parseDateTime(text.trim());
  if (!Number.isFinite(ms)) fail(`bad dateTime.iso8601 ${JSON.stringify(text)}`);
  return formatDateTime(ms);
}

function parseBase64(text: string): string {
  const s = text.replace(/[ \t\r\n]+/g, '');
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) fail('bad base64');
  return Buffer.from(s, 'base64').toString('utf8');
}

/** Sets a decoded struct member; `__proto__` must become a plain own property, not a prototype. */
function setMember(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

function parseStruct(el: XmlEl): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of elementsOf(el)) {
    if (m.name !== 'member') fail(`<${m.name}> in <struct>`);
    const [name, value, extra] = elementsOf(m);
    if (name?.name !== 'name' || value === undefined || extra !== undefined)
      fail('<member> must be <name> then <value>');
    setMember(out, textOf(name), parseValue(value));
  }
  return out;
}

function parseArray(el: XmlEl): unknown[] {
  const kids = elementsOf(el);
  if (kids.length === 0) return []; // <array/>, which ocaml-rpc also accepts
  return elementsOf(only(el, 'data')).map(parseValue);
}

function parseTyped(el: XmlEl): unknown {
  switch (el.name) {
    case 'string':
      return textOf(el);
    case 'int':
    case 'i4':
    case 'i8':
      return parseInt64(textOf(el));
    case 'boolean':
      return parseBoolean(textOf(el));
    case 'double':
      return parseDouble(textOf(el));
    case 'dateTime.iso8601':
      return parseDate(textOf(el));
    case 'base64':
      return parseBase64(textOf(el));
    case 'nil':
      if (elementsOf(el).length > 0) fail('<nil> must be empty');
      return null;
    case 'array':
      return parseArray(el);
    case 'struct':
      return parseStruct(el);
    default:
      return fail(`unknown value type <${el.name}>`);
  }
}

/** A `<value>`: bare text is a string (kept verbatim, even if only spaces), else one typed child. */
function parseValue(el: XmlEl): unknown {
  if (el.name !== 'value') fail(`expected <value>, got <${el.name}>`);
  if (el.kids.every((k) => typeof k === 'string')) return textOf(el);
  const kids = elementsOf(el);
  const first = kids[0];
  if (kids.length !== 1 || first === undefined) fail('<value> must hold one element');
  return parseTyped(first);
}

function parseParams(el: XmlEl | undefined): unknown[] {
  if (el === undefined) return [];
  if (el.name !== 'params') fail(`unexpected <${el.name}>`);
  return elementsOf(el).map((p) => {
    if (p.name !== 'param') fail(`<${p.name}> in <params>`);
    return parseValue(only(p, 'value'));
  });
}

// The fast path: most calls carry only strings (a session, refs, names), sent compactly by npm
// xen-api or indented by Python's xmlrpc.client. Such a body is read with a few sticky regular
// expressions instead of building the element tree. It accepts a strict subset of what the full
// reader accepts, text without entities or carriage returns (which decode verbatim), and returns
// the same result for it; anything else (another value type, an entity, a comment, attributes,
// self-closing tags, an error) returns undefined and goes through the full reader.
const WS = '[ \\t\\r\\n]*';
const CALL_HEAD = new RegExp(
  `${WS}(?:<\\?xml[^<>?]*\\?>)?${WS}<methodCall>${WS}<methodName>([^<&\\r]+)</methodName>${WS}`,
  'y',
);
const PARAMS_OPEN = new RegExp(`<params>${WS}`, 'y');
const STRING_PARAM = new RegExp(
  `<param>${WS}<value>(?:([^<&\\r]*)|${WS}<string>([^<&\\r]*)</string>${WS})</value>${WS}</param>${WS}`,
  'y',
);
const PARAMS_CLOSE = new RegExp(`</params>${WS}`, 'y');
const CALL_TAIL = new RegExp(`</methodCall>${WS}$`, 'y');

function parseStringMethodCall(body: string): { method: string; params: unknown[] } | undefined {
  CALL_HEAD.lastIndex = 0;
  const head = CALL_HEAD.exec(body);
  if (head === null) return undefined;
  let at = CALL_HEAD.lastIndex;
  const params: unknown[] = [];
  PARAMS_OPEN.lastIndex = at;
  if (PARAMS_OPEN.exec(body) !== null) {
    at = PARAMS_OPEN.lastIndex;
    for (;;) {
      STRING_PARAM.lastIndex = at;
      const m = STRING_PARAM.exec(body);
      if (m === null) break;
      params.push(m[1] ?? m[2] ?? '');
      at = STRING_PARAM.lastIndex;
    }
    PARAMS_CLOSE.lastIndex = at;
    if (PARAMS_CLOSE.exec(body) === null) return undefined;
    at = PARAMS_CLOSE.lastIndex;
  }
  CALL_TAIL.lastIndex = at;
  if (CALL_TAIL.exec(body) === null) return undefined;
  return { method: head[1] ?? '', params };
}

export function parseMethodCall(body: string): { method: string; params: unknown[] } {
  const simple = parseStringMethodCall(body);
  if (simple !== undefined) return simple;
  const root = parseXmlTree(body);
  if (root.name !== 'methodCall') fail(`root is <${root.name}>, not <methodCall>`);
  const [nameEl, paramsEl, extra] = elementsOf(root);
  if (nameEl?.name !== 'methodName') fail('missing <methodName>');
  if (extra !== undefined) fail(`unexpected <${extra.name}>`);
  const method = textOf(nameEl);
  if (method === '') fail('empty <methodName>');
  return { method, params: parseParams(paramsEl) };
}

export type XmlResponse = { ok: true; value: unknown } | { ok: false; error: string[] };

function errorStrings(v: unknown): string[] {
  return Array.isArray(v) ? v.map((x) => String(x)) : [String(v)];
}

/** Status/Value/ErrorDescription envelope; a bare value (system.listMethods) is a success. */
export function parseMethodResponse(body: string): XmlResponse {
  const root = parseXmlTree(body);
  if (root.name !== 'methodResponse') fail(`root is <${root.name}>, not <methodResponse>`);
  const top = only(root, elementsOf(root)[0]?.name === 'fault' ? 'fault' : 'params');
  if (top.name === 'fault') {
    // ocaml-rpc maps a fault to the failure ["fault", code, string]; xapi itself never sends one.
    const f = objectOf(parseValue(only(top, 'value')), 'fault');
    return { ok: false, error: ['fault', String(f['faultCode']), String(f['faultString'])] };
  }
  const v = parseValue(only(only(top, 'param'), 'value'));
  if (isObject(v) && Object.hasOwn(v, 'Status')) {
    if (v['Status'] === 'Success' && Object.hasOwn(v, 'Value')) return { ok: true, value: v['Value'] };
    if (v['Status'] === 'Failure' && Object.hasOwn(v, 'ErrorDescription')) {
      return { ok: false, error: errorStrings(v['ErrorDescription']) };
    }
  }
  return { ok: true, value: v };
}

// ---- encoding (ocaml-rpc xmlrpc.ml add_value, strict=false) ----

const EMPTY = '<value></value>';
const TRUE = '<value><boolean>1</boolean></value>';
const FALSE = '<value><boolean>0</boolean></value>';

function dateText(v: unknown): string {
  if (typeof v === 'string') return escapeXml(v);
  if (v instanceof Date) return formatDateTime(v.getTime());
  if (v === undefined || v === null) return NULL_DATE;
  throw new BugError(`not a datetime: ${typeof v}`);
}

// Pieces are pushed onto one array and joined once: for get_all_records that is ~1.6x faster than
// string concatenation, whose millions of intermediate rope nodes keep the GC busy.

function writeSet(of: Ty, v: unknown, resolve: Resolve, out: string[]): void {
  out.push('<value><array><data>');
  for (const x of arrayOf(v)) writeValue(of, x, resolve, out);
  out.push('</data></array></value>');
}

function writeMap(valueTy: Ty, v: unknown, resolve: Resolve, out: string[]): void {
  const obj = objectOf(v, 'map');
  out.push('<value><struct>');
  // xapi does not escape member names; we do, so an odd key cannot break the document.
  for (const k of Object.keys(obj)) {
    out.push('<member><name>', escapeXml(k), '</name>');
    writeValue(valueTy, obj[k], resolve, out);
    out.push('</member>');
  }
  out.push('</struct></value>');
}

function writeFields(ty: RecordTy | StructTy, v: unknown, resolve: Resolve, out: string[]): void {
  const { fields, xmlText } = planOf(ty, resolve);
  const obj = objectOf(v, ty.kind);
  // A class record's text is cached per record object (see `Plan.xmlText`); get_all_records and
  // event snapshots then cost one push per record once the cache is warm.
  let cached: string[] | undefined;
  if (ty.kind === 'record') {
    const text = xmlText.get(obj);
    if (text !== undefined) {
      out.push(text);
      return;
    }
    cached = [];
  }
  const into = cached ?? out;
  into.push('<value><struct>');
  for (const f of fields) {
    const x = obj[f.name];
    into.push(f.xmlHead);
    writeValue(f.ty, x === undefined ? f.zero : x, resolve, into);
    into.push('</member>');
  }
  into.push('</struct></value>');
  if (cached !== undefined) {
    const text = cached.join('');
    xmlText.set(obj, text);
    out.push(text);
  }
}

function writeValue(ty: Ty, value: unknown, resolve: Resolve, out: string[]): void {
  switch (ty.kind) {
    case 'string':
    case 'ref':
    case 'enum': {
      const s = typeof value === 'string' ? value : stringOf(value);
      if (s === '') out.push(EMPTY);
      else out.push('<value>', escapeXml(s), '</value>');
      return;
    }
    case 'int':
      out.push('<value>', intText(value), '</value>');
      return;
    case 'int32':
      out.push('<value><i4>', intText(value), '</i4></value>');
      return;
    case 'float':
      out.push('<value><double>', formatG(floatOf(value), 16), '</double></value>');
      return;
    case 'bool':
      out.push(value === true || value === 1 ? TRUE : FALSE);
      return;
    case 'datetime':
      out.push('<value><dateTime.iso8601>', dateText(value), '</dateTime.iso8601></value>');
      return;
    case 'set':
      return writeSet(ty.of, value, resolve, out);
    case 'map':
      return writeMap(ty.value, value, resolve, out);
    case 'record':
    case 'struct':
      return writeFields(ty, value, resolve, out);
    case 'dynamic': {
      const typed = typedOf(value);
      if (typed === undefined) out.push(EMPTY);
      else writeValue(typed.ty, typed.value, resolve, out);
      return;
    }
    case 'void':
      out.push(EMPTY);
      return;
  }
}

/** One `<value>…</value>` for `value` of type `ty`, exactly as xapi would emit it. */
export function encodeValue(ty: Ty, value: unknown, resolve: Resolve = defaultResolve): string {
  const out: string[] = [];
  writeValue(ty, value, resolve, out);
  return out.join('');
}

const HEAD = '<?xml version="1.0"?><methodResponse><params><param>';
const TAIL = '</param></params></methodResponse>';
const STRING: Ty = { kind: 'string' };

/** The success envelope as pieces that join to the reply (the HTTP server streams large ones). */
export function encodeSuccessParts(ty: Ty, value: unknown, resolve: Resolve = defaultResolve): string[] {
  const out = [
    HEAD,
    '<value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name>',
  ];
  writeValue(ty, value, resolve, out);
  out.push('</member></struct></value>', TAIL);
  return out;
}

export function encodeSuccess(ty: Ty, value: unknown, resolve: Resolve = defaultResolve): string {
  return encodeSuccessParts(ty, value, resolve).join('');
}

export function encodeFailure(code: string, params: readonly string[]): string {
  const out = [
    HEAD,
    '<value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name>',
    '<value><array><data>',
  ];
  writeValue(STRING, code, defaultResolve, out);
  for (const p of params) writeValue(STRING, p, defaultResolve, out);
  out.push('</data></array></value></member></struct></value>', TAIL);
  return out.join('');
}

/** A response without the Status envelope: xapi answers system.listMethods this way. */
export function encodeBareParts(ty: Ty, value: unknown, resolve: Resolve = defaultResolve): string[] {
  const out = [HEAD];
  writeValue(ty, value, resolve, out);
  out.push(TAIL);
  return out;
}

export function encodeBare(ty: Ty, value: unknown, resolve: Resolve = defaultResolve): string {
  return encodeBareParts(ty, value, resolve).join('');
}

// ---- untyped encoding for our own client, shaped like npm xen-api's requests ----

function encodeJs(v: unknown): string {
  if (typeof v === 'string') return v === '' ? EMPTY : `<value>${escapeXml(v)}</value>`;
  // xen-api sends integers as decimal strings (xapi reads them as int64 where needed).
  if (typeof v === 'number')
    return Number.isInteger(v)
      ? `<value>${intText(v)}</value>`
      : `<value><double>${String(v)}</double></value>`;
  if (typeof v === 'bigint') return `<value>${v.toString()}</value>`;
  if (typeof v === 'boolean') return v ? TRUE : FALSE;
  if (v === null) return '<value><nil/></value>';
  if (v instanceof Date)
    return `<value><dateTime.iso8601>${formatDateTime(v.getTime())}</dateTime.iso8601></value>`;
  if (v instanceof Uint8Array) return `<value><base64>${Buffer.from(v).toString('base64')}</base64></value>`;
  if (Array.isArray(v)) return `<value><array><data>${v.map(encodeJs).join('')}</data></array></value>`;
  if (isObject(v)) {
    let out = '<value><struct>';
    for (const [k, x] of Object.entries(v))
      if (x !== undefined) out += `<member><name>${escapeXml(k)}</name>${encodeJs(x)}</member>`;
    return out + '</struct></value>';
  }
  throw new TypeError(`cannot send ${typeof v} over XML-RPC`);
}

export function encodeMethodCall(method: string, params: readonly unknown[]): string {
  let out = `<?xml version="1.0"?><methodCall><methodName>${escapeXml(method)}</methodName><params>`;
  for (const p of params) out += `<param>${encodeJs(p)}</param>`;
  return out + '</params></methodCall>';
}
