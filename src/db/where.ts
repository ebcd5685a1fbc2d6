// xapi's get_all_records_where expression language (db_filter_lex.mll / db_filter_parse.mly):
//   expr := value "=" value | value "<>" value | expr "and" expr | expr "or" expr | "not" expr
//         | "true" | "false" | "(" expr ")"
//   value := "literal" | field "name"
// Comparison is on the DB string form of a field (bools as true/false, numbers in decimal).
import { ApiError } from '../model/errors.js';

type Value = { kind: 'lit'; text: string } | { kind: 'field'; name: string };
export type Expr =
  | { kind: 'true' }
  | { kind: 'false' }
  | { kind: 'eq' | 'ne'; left: Value; right: Value }
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'not'; expr: Expr };

type Tok = { t: 'str'; v: string } | { t: 'word'; v: string } | { t: 'sym'; v: string };

function lex(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] ?? '';
    if (/\s/.test(c)) i++;
    else if (c === '"') {
      let v = '';
      i++;
      while (i < src.length && src[i] !== '"') {
        if (src[i] === '\\' && i + 1 < src.length) i++;
        v += src[i];
        i++;
      }
      if (i >= src.length) throw bad(src);
      i++;
      toks.push({ t: 'str', v });
    } else if (src.startsWith('<>', i)) {
      toks.push({ t: 'sym', v: '<>' });
      i += 2;
    } else if ('()='.includes(c)) {
      toks.push({ t: 'sym', v: c });
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_]+/.exec(src.slice(i));
      const w = m?.[0] ?? c;
      toks.push({ t: 'word', v: w.toLowerCase() });
      i += w.length;
    } else throw bad(src);
  }
  return toks;
}

function bad(src: string): ApiError {
  return new ApiError('INVALID_VALUE', ['expr', src]);
}

export function parseWhere(src: string): Expr {
  const toks = lex(src);
  let pos = 0;
  const peek = () => toks[pos];
  const take = () => toks[pos++] ?? fail();
  function fail(): never {
    throw bad(src);
  }
  const value = (): Value => {
    const tk = take();
    if (tk.t === 'str') return { kind: 'lit', text: tk.v };
    if (tk.t === 'word' && tk.v === 'field') {
      const n = take();
      if (n.t !== 'str') fail();
      return { kind: 'field', name: n.v };
    }
    return fail();
  };
  const atom = (): Expr => {
    const tk = peek();
    if (tk === undefined) fail();
    if (tk.t === 'sym' && tk.v === '(') {
      pos++;
      const e = or();
      const close = take();
      if (close.t !== 'sym' || close.v !== ')') fail();
      return e;
    }
    if (tk.t === 'word' && tk.v === 'not') {
      pos++;
      return { kind: 'not', expr: atom() };
    }
    if (tk.t === 'word' && (tk.v === 'true' || tk.v === 'false')) {
      pos++;
      return { kind: tk.v };
    }
    const left = value();
    const op = take();
    if (op.t !== 'sym' || (op.v !== '=' && op.v !== '<>')) fail();
    return { kind: op.v === '=' ? 'eq' : 'ne', left, right: value() };
  };
  const and = (): Expr => {
    let e = atom();
    while (peek()?.t === 'word' && peek()?.v === 'and') {
      pos++;
      e = { kind: 'and', left: e, right: atom() };
    }
    return e;
  };
  const or = (): Expr => {
    let e = and();
    while (peek()?.t === 'word' && peek()?.v === 'or') {
      pos++;
      e = { kind: 'or', left: e, right: and() };
    }
    return e;
  };
  const e = or();
  if (pos !== toks.length) fail();
  return e;
}

/** The DB string form of a field value, as xapi compares it. */
export function dbString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  return JSON.stringify(v);
}

export function evalWhere(e: Expr, rec: Record<string, unknown>): boolean {
  const val = (x: Value) => (x.kind === 'lit' ? x.text : dbString(rec[x.name]));
  switch (e.kind) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'eq':
      return val(e.left) === val(e.right);
    case 'ne':
      return val(e.left) !== val(e.right);
    case 'and':
      return evalWhere(e.left, rec) && evalWhere(e.right, rec);
    case 'or':
      return evalWhere(e.left, rec) || evalWhere(e.right, rec);
    case 'not':
      return !evalWhere(e.expr, rec);
  }
}
