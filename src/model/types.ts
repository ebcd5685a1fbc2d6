// XenAPI types as data. Every field, parameter and result is described by a `Ty`; wire codecs,
// parameter validation, the DB and the docs interpret these values, and `TsOf` gives their TS type.

/** Phantom carrier: `__ts` never exists at run time, it only lets TS infer the value type. */
interface Phantom<T> {
  readonly __ts?: T;
}

export interface StringTy extends Phantom<string> {
  readonly kind: 'string';
}
export interface IntTy extends Phantom<number> {
  readonly kind: 'int';
}
/** Only `event.from`'s valid_ref_counts uses 32-bit ints on the wire (`<i4>`). */
export interface Int32Ty extends Phantom<number> {
  readonly kind: 'int32';
}
export interface FloatTy extends Phantom<number> {
  readonly kind: 'float';
}
export interface BoolTy extends Phantom<boolean> {
  readonly kind: 'bool';
}
/** Held as the wire string `YYYYMMDDTHH:MM:SSZ`. */
export interface DateTimeTy extends Phantom<string> {
  readonly kind: 'datetime';
}
export interface RefTy<C extends string = string> extends Phantom<string> {
  readonly kind: 'ref';
  readonly cls: C;
}
export interface EnumTy<V extends string = string> extends Phantom<V> {
  readonly kind: 'enum';
  readonly name: string;
  readonly values: readonly V[];
}
export interface SetTy<T extends Ty = Ty> extends Phantom<TsOf<T>[]> {
  readonly kind: 'set';
  readonly of: T;
}
export interface MapTy<K extends Ty = Ty, V extends Ty = Ty> extends Phantom<Record<string, TsOf<V>>> {
  readonly kind: 'map';
  readonly key: K;
  readonly value: V;
}
/** A whole record of class `cls` (get_record results, create arguments). */
export interface RecordTy<C extends string = string> extends Phantom<Record<string, unknown>> {
  readonly kind: 'record';
  readonly cls: C;
}
/** A fixed struct such as event.from's result. */
export interface StructTy<F extends Record<string, Ty> = Record<string, Ty>> extends Phantom<{
  [K in keyof F]: TsOf<F[K]>;
}> {
  readonly kind: 'struct';
  readonly fields: F;
}
/** A value whose type is only known at run time; it travels as `{ ty, value }`. */
export interface DynamicTy extends Phantom<Typed> {
  readonly kind: 'dynamic';
}
export interface VoidTy extends Phantom<void> {
  readonly kind: 'void';
}

export type Ty =
  | StringTy
  | IntTy
  | Int32Ty
  | FloatTy
  | BoolTy
  | DateTimeTy
  | RefTy
  | EnumTy
  | SetTy
  | MapTy
  | RecordTy
  | StructTy
  | DynamicTy
  | VoidTy;

export interface Typed {
  readonly ty: Ty;
  readonly value: unknown;
}

export type TsOf<T> = T extends Phantom<infer X> ? X : never;

export const t = {
  string: { kind: 'string' } as StringTy,
  int: { kind: 'int' } as IntTy,
  int32: { kind: 'int32' } as Int32Ty,
  float: { kind: 'float' } as FloatTy,
  bool: { kind: 'bool' } as BoolTy,
  datetime: { kind: 'datetime' } as DateTimeTy,
  void: { kind: 'void' } as VoidTy,
  dynamic: { kind: 'dynamic' } as DynamicTy,
  ref: <C extends string>(cls: C): RefTy<C> => ({ kind: 'ref', cls }),
  enumOf: <const V extends string>(name: string, values: readonly V[]): EnumTy<V> => ({
    kind: 'enum',
    name,
    values,
  }),
  set: <T extends Ty>(of: T): SetTy<T> => ({ kind: 'set', of }),
  map: <K extends Ty, V extends Ty>(key: K, value: V): MapTy<K, V> => ({ kind: 'map', key, value }),
  record: <C extends string>(cls: C): RecordTy<C> => ({ kind: 'record', cls }),
  struct: <F extends Record<string, Ty>>(fields: F): StructTy<F> => ({ kind: 'struct', fields }),
} as const;

/** The common `(string -> string) map`. */
export const stringMap = t.map(t.string, t.string);

export const NULL_REF = 'OpaqueRef:NULL';
/** xapi's "null" date. */
export const NULL_DATE = '19700101T00:00:00Z';

/** The zero value of a type, used when a field declares no default. */
export function zeroOf(ty: Ty): unknown {
  switch (ty.kind) {
    case 'string':
    case 'void':
      return '';
    case 'int':
    case 'int32':
    case 'float':
      return 0;
    case 'bool':
      return false;
    case 'datetime':
      return NULL_DATE;
    case 'ref':
      return NULL_REF;
    case 'enum':
      return ty.values[0];
    case 'set':
      return [];
    case 'map':
    case 'struct':
    case 'record':
      return {};
    case 'dynamic':
      return null;
  }
}

/** How a type is written in xapi's docs, e.g. `(string -> string) map`, `VM ref set`. */
export function tyName(ty: Ty): string {
  switch (ty.kind) {
    case 'ref':
      return `${ty.cls} ref`;
    case 'enum':
      return `enum ${ty.name}`;
    case 'set':
      return `${tyName(ty.of)} set`;
    case 'map':
      return `(${tyName(ty.key)} -> ${tyName(ty.value)}) map`;
    case 'record':
      return `${ty.cls} record`;
    case 'int32':
      return 'int';
    default:
      return ty.kind;
  }
}
