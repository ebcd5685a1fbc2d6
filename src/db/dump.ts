// The pool database backup format (`xe pool-dump-database`, docs/recovery.md): line-delimited
// JSON, so it can be written and read as a stream whatever the pool's size.
//
//   line 1      header  {"format":"poolstack-pool-dump","version":1,"schema":S,"pool":…,"master":…,
//                        "epoch":E,"generation":G,"created":…,"rows":N}
//   lines 2…N+1 rows    [class, ref, ctime, mtime, {record}]   (the record's stored JSON text, as is)
//   last line   trailer {"end":true,"rows":N,"sha256":"<hex of every byte before this line>"}
//
// A reader knows a file that is not a dump (no header), a newer format or schema, a truncated file
// (no trailer, or fewer rows) and a corrupted one (checksum) before it changes anything. Older
// schemas are migrated row by row (src/model/schema.ts).
import { createHash } from 'node:crypto';
import { migrateRows } from '../model/schema.js';
import type { StoredRow } from './sqlite-store.js';

export const DUMP_FORMAT = 'poolstack-pool-dump';
export const DUMP_VERSION = 1;

export interface DumpHeader {
  format: typeof DUMP_FORMAT;
  version: number;
  /** The datamodel's schema version the rows follow (src/model/schema.ts). */
  schema: number;
  /** uuids of the pool and of its master when the dump was taken. */
  pool: string;
  master: string;
  epoch: number;
  generation: number;
  /** ISO 8601 time of the dump (the master's clock). */
  created: string;
  rows: number;
}

export type DumpErrorCode = 'FOREIGN' | 'UNSUPPORTED_VERSION' | 'NEWER_SCHEMA' | 'TRUNCATED' | 'CORRUPT';

export class DumpError extends Error {
  override readonly name = 'DumpError';
  constructor(
    readonly code: DumpErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** One row as it travels: the stored JSON text of the record, not a re-serialisation. */
export interface DumpRow {
  cls: string;
  ref: string;
  ctime: number;
  mtime: number;
  text: string;
}

/**
 * The dump as a sequence of text chunks (each a few whole lines), hashing as it goes. The rows
 * are taken as they are given: the caller passes a consistent cut (the DB's rows are immutable).
 */
export function* encodeDump(
  header: Omit<DumpHeader, 'format' | 'version' | 'rows'>,
  rows: readonly DumpRow[],
): Generator<Buffer> {
  const hash = createHash('sha256');
  // Each chunk is encoded to UTF-8 once, for the checksum and for the writer alike.
  const emit = (s: string) => {
    const b = Buffer.from(s);
    hash.update(b);
    return b;
  };
  const full: DumpHeader = { format: DUMP_FORMAT, version: DUMP_VERSION, ...header, rows: rows.length };
  yield emit(JSON.stringify(full) + '\n');
  const BATCH = 1000;
  for (let i = 0; i < rows.length; i += BATCH) {
    let chunk = '';
    for (let j = i; j < Math.min(i + BATCH, rows.length); j++) {
      const r = rows[j] as DumpRow;
      // The stored text is JSON already: it goes in as it is, not escaped into a string.
      chunk += `[${JSON.stringify(r.cls)},${JSON.stringify(r.ref)},${r.ctime},${r.mtime},${r.text}]\n`;
    }
    yield emit(chunk);
  }
  yield Buffer.from(JSON.stringify({ end: true, rows: rows.length, sha256: hash.digest('hex') }) + '\n');
}

export interface ParsedDump {
  header: DumpHeader;
  rows: StoredRow[];
}

/**
 * Reads a whole dump from its chunks (a file or a request body) and checks it completely: the
 * caller changes nothing until this returns. `schema` is the running product's schema version.
 */
export async function parseDump(
  chunks: AsyncIterable<Buffer | string>,
  schema: number,
  /**
   * Each run of rows as it is read (before the checksum is known, and before any migration),
   * with the bytes of their lines.
   */
  onRows?: (rows: readonly StoredRow[], header: DumpHeader, bytes: Buffer) => void,
): Promise<ParsedDump> {
  const hash = createHash('sha256');
  let header: DumpHeader | undefined;
  let trailer: Record<string, unknown> | undefined;
  const rows: StoredRow[] = [];
  let lineNo = 0;
  /** The bytes after the last whole line seen so far. */
  let rest: Buffer = Buffer.alloc(0);
  // Lines are cut on the bytes ('\n' is never part of a multi-byte UTF-8 character), so the
  // checksum is fed the bytes as they came and each run of row lines is decoded once.
  for await (const chunk of chunks) {
    const c = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const buf = rest.length === 0 ? c : Buffer.concat([rest, c]);
    const end = buf.lastIndexOf(NL) + 1; // whole lines are buf[0, end)
    let pos = 0;
    if (header === undefined && end > 0) {
      const nl = buf.indexOf(NL);
      lineNo++;
      header = parseHeader(buf.toString('utf8', 0, nl), schema);
      hash.update(buf.subarray(0, nl + 1));
      pos = nl + 1;
    }
    if (header === undefined && buf.length > 4096)
      throw new DumpError('FOREIGN', 'this is not a Poolstack pool database dump');
    if (pos < end && trailer !== undefined)
      throw new DumpError('CORRUPT', `data after the end of the dump (line ${lineNo + 1})`);
    // Row lines start with '['; the trailer, the only other line after the header, with '{'.
    const found = buf[pos] === OPEN_BRACE ? pos : buf.indexOf(NL_OPEN_BRACE, pos) + 1 || end;
    const t = Math.min(found, end);
    // (Whole lines after the header's: the header was read above if there was any whole line.)
    if (pos < t && header !== undefined) {
      const bytes = buf.subarray(pos, t);
      hash.update(bytes);
      const first = rows.length;
      for (const line of rowLines(bytes)) rows.push(parseRow(line, ++lineNo));
      onRows?.(rows.slice(first), header, bytes);
    }
    if (t < end) {
      const nl = buf.indexOf(NL, t);
      trailer = parseJson(buf.toString('utf8', t, nl), ++lineNo);
      if (nl + 1 < end) throw new DumpError('CORRUPT', `data after the end of the dump (line ${lineNo + 1})`);
    }
    rest = buf.subarray(end);
  }
  if (rest.length > 0) {
    if (header === undefined && rest.toString('utf8').startsWith(`{"format":"${DUMP_FORMAT}"`))
      throw new DumpError('TRUNCATED', 'the dump ends inside its header: the file is truncated');
    if (header === undefined) parseHeader(rest.toString('utf8'), schema);
    if (trailer !== undefined) throw new DumpError('CORRUPT', `data after the end of the dump`);
    throw new DumpError('TRUNCATED', 'the dump ends in the middle of a line: the file is truncated');
  }
  if (header === undefined) throw new DumpError('FOREIGN', 'the file is empty: not a pool database dump');
  if (trailer === undefined || trailer.end !== true)
    throw new DumpError(
      'TRUNCATED',
      `the dump has no end line: the file is truncated after ${rows.length} rows`,
    );
  if (trailer.sha256 !== hash.digest('hex'))
    throw new DumpError('CORRUPT', 'the checksum does not match: the file is corrupted');
  if (trailer.rows !== rows.length || header.rows !== rows.length)
    throw new DumpError('CORRUPT', `the dump says ${header.rows} rows but holds ${rows.length}`);
  migrateRows(rows, header.schema);
  return { header, rows };
}

const NL = 0x0a;
const OPEN_BRACE = 0x7b;
const NL_OPEN_BRACE = Buffer.from('\n{');

function parseJson(line: string, lineNo: number): Record<string, unknown> {
  try {
    const x: unknown = JSON.parse(line);
    if (typeof x === 'object' && x !== null && !Array.isArray(x)) return x as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new DumpError('CORRUPT', `line ${lineNo} is not valid JSON`);
}

function parseHeader(line: string, schema: number): DumpHeader {
  let x: Record<string, unknown>;
  try {
    x = parseJson(line, 1);
  } catch {
    throw new DumpError('FOREIGN', 'this is not a Poolstack pool database dump');
  }
  if (x.format !== DUMP_FORMAT) throw new DumpError('FOREIGN', 'this is not a Poolstack pool database dump');
  if (x.version !== DUMP_VERSION)
    throw new DumpError('UNSUPPORTED_VERSION', `dump format version ${String(x.version)} is not supported`);
  const int = (k: string) => {
    const v = x[k];
    if (!Number.isSafeInteger(v) || (v as number) < 0)
      throw new DumpError('CORRUPT', `the header's ${k} is invalid`);
    return v as number;
  };
  const str = (k: string) => {
    const v = x[k];
    if (typeof v !== 'string') throw new DumpError('CORRUPT', `the header's ${k} is invalid`);
    return v;
  };
  const h: DumpHeader = {
    format: DUMP_FORMAT,
    version: DUMP_VERSION,
    schema: int('schema'),
    pool: str('pool'),
    master: str('master'),
    epoch: int('epoch'),
    generation: int('generation'),
    created: str('created'),
    rows: int('rows'),
  };
  if (h.schema > schema)
    throw new DumpError(
      'NEWER_SCHEMA',
      `the dump has schema version ${h.schema}; this host runs ${schema}: upgrade this host first`,
    );
  return h;
}

/** `["cls","ref",ctime,mtime,` — what precedes the record on a row line. */
const ROW_PREFIX = /^\[("(?:[^"\\]|\\.)*"),("(?:[^"\\]|\\.)*"),(\d{1,15}),(\d{1,15}),/;

/** Class names as they appear quoted on row lines, parsed once (there are a few dozen). */
const classNames = new Map<string, string>();

/** A row line's fields, the record left as its text (cut out as it is) and `body` empty. */
export function rowFields(line: string, lineNo: number): StoredRow & { text: string } {
  const m = ROW_PREFIX.exec(line);
  if (m === null || !line.endsWith(']')) throw new DumpError('CORRUPT', `line ${lineNo} is not a row`);
  const quotedCls = m[1] as string;
  let cls: unknown = classNames.get(quotedCls);
  let ref: unknown;
  try {
    if (cls === undefined) {
      cls = JSON.parse(quotedCls);
      if (typeof cls === 'string' && classNames.size < 1000) classNames.set(quotedCls, cls);
    }
    ref = JSON.parse(m[2] as string);
  } catch {
    throw new DumpError('CORRUPT', `line ${lineNo} is not valid JSON`);
  }
  if (typeof cls !== 'string' || typeof ref !== 'string')
    throw new DumpError('CORRUPT', `line ${lineNo} is not a row`);
  const text = line.slice(m[0].length, -1);
  return { cls, ref, ctime: Number(m[3]), mtime: Number(m[4]), body: {}, text };
}

/** The lines of a run of whole row lines (each ends with '\n'). */
export function rowLines(bytes: Buffer): string[] {
  return bytes.toString('utf8', 0, bytes.length - 1).split('\n');
}

/** A row line: the record's text is cut out as it is (one parse, of the record only). */
function parseRow(line: string, lineNo: number): StoredRow {
  const row = rowFields(line, lineNo);
  let body: unknown;
  try {
    body = JSON.parse(row.text);
  } catch {
    throw new DumpError('CORRUPT', `line ${lineNo} is not valid JSON`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new DumpError('CORRUPT', `the record on line ${lineNo} is not an object`);
  row.body = body as Record<string, unknown>;
  return row;
}
