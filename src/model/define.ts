// The vocabulary classes are declared in: fields with qualifiers, explicit messages with typed
// parameters, errors and roles. Everything else (dispatch, implicit messages, docs) is derived.
import type { ErrorCode } from './errors.js';
import type { Role } from './roles.js';
import type { Ty, TsOf } from './types.js';
import { t } from './types.js';

export type Qualifier = 'RW' | 'StaticRO' | 'DynamicRO';

export interface FieldDef<T extends Ty = Ty> {
  readonly ty: T;
  readonly qualifier: Qualifier;
  readonly doc: string;
  /** Value given to new objects when the creator does not say; `zeroOf(ty)` when absent. */
  readonly default?: TsOf<T>;
  /** False for fields blanked at every start (xapi `~persist:false`). */
  readonly persist: boolean;
  /**
   * For a ref field: the name of the set field on the referenced class that lists every object
   * pointing at it (VBD.VM ↔ VM.VBDs). The DB keeps both sides in step in one transaction.
   */
  readonly inverse?: string;
  /** RW map fields whose keys xapi lets `set_`/`add_to_` change; all by default. */
  readonly deprecated?: boolean;
}

export function field<T extends Ty>(
  ty: T,
  qualifier: Qualifier,
  doc: string,
  opts: { default?: TsOf<T>; persist?: boolean; inverse?: string; deprecated?: boolean } = {},
): FieldDef<T> {
  return { ty, qualifier, doc, persist: opts.persist ?? true, ...opts };
}

export interface ParamDef<T extends Ty = Ty> {
  readonly name: string;
  readonly ty: T;
  readonly doc: string;
  /** Trailing parameters with a default may be omitted by the caller (login's version/originator). */
  readonly default?: TsOf<T>;
}

export function param<T extends Ty>(name: string, ty: T, doc: string, opts: { default?: TsOf<T> } = {}) {
  return { name, ty, doc, ...opts } as ParamDef<T>;
}

export interface MessageDef<P extends readonly ParamDef[] = readonly ParamDef[], R extends Ty = Ty> {
  readonly params: P;
  readonly result: R;
  readonly doc: string;
  readonly errors: readonly ErrorCode[];
  readonly roles: Role;
  /** Has an `Async.` twin returning a task. */
  readonly async: boolean;
  /** Parameters must never be logged (passwords). */
  readonly secret: boolean;
  /** Callable without a session as first argument (login). */
  readonly sessionless: boolean;
}

export function message<const P extends readonly ParamDef[], R extends Ty>(def: {
  params: P;
  result: R;
  doc: string;
  errors?: readonly ErrorCode[];
  roles?: Role;
  async?: boolean;
  secret?: boolean;
  sessionless?: boolean;
}): MessageDef<P, R> {
  return {
    errors: [],
    roles: 'pool-admin',
    async: false,
    secret: false,
    sessionless: false,
    ...def,
  };
}

/**
 * An explicit `set_<field>` for a field xapi declares StaticRO but lets callers change through a
 * checked setter (SR.set_name_label, VM.set_VCPUs_max …). xe shows such fields as RW.
 */
export function setter<C extends string, T extends Ty>(
  cls: C,
  fieldName: string,
  ty: T,
  doc: string,
  roles: Role = 'vm-admin',
  async = false,
) {
  return message({
    params: [
      param('self', t.ref(cls), `The ${cls}`),
      param('value', ty, `The new value of ${fieldName}`),
    ] as const,
    result: t.void,
    doc,
    roles,
    async,
  });
}

export interface ClassDef<
  N extends string = string,
  F extends Record<string, FieldDef> = Record<string, FieldDef>,
  M extends Record<string, MessageDef> = Record<string, MessageDef>,
> {
  readonly name: N;
  readonly doc: string;
  /** False for classes that live only in memory (session, task). */
  readonly persist: boolean;
  readonly fields: F;
  readonly messages: M;
}

export function defineClass<
  const N extends string,
  F extends Record<string, FieldDef>,
  M extends Record<string, MessageDef>,
>(def: { name: N; doc: string; persist?: boolean; fields: F; messages: M }): ClassDef<N, F, M> {
  return { persist: true, ...def };
}

/** The TS shape of a record of class C. */
export type RecordOf<C extends ClassDef> = { -readonly [K in keyof C['fields']]: TsOf<C['fields'][K]['ty']> };

type ParamsTs<P> = { -readonly [I in keyof P]: P[I] extends ParamDef<infer T> ? TsOf<T> : never };

/** An implementation of one explicit message; `Ctx` is the API layer's call context. */
export type Handler<Ctx, M extends MessageDef> = (
  ctx: Ctx,
  ...args: ParamsTs<M['params']> extends infer A extends unknown[] ? A : never
) => Promise<TsOf<M['result']>> | TsOf<M['result']>;

/** Exactly one handler per explicit message of every class: a missing one is a type error. */
export type Handlers<Ctx, Cs extends Record<string, ClassDef>> = {
  [C in keyof Cs]: { [M in keyof Cs[C]['messages']]: Handler<Ctx, Cs[C]['messages'][M]> };
};
