// Small helpers shared by implementations: typed reads that raise HANDLE_INVALID, fresh
// identities, the current time in XenAPI form.
import { formatDateTime } from '../base/clock.js';
import { newRef, newUuid } from '../base/ids.js';
import type { Rec as AnyRec } from '../db/db.js';
import { ApiError } from '../model/errors.js';
import type { ClassName, Rec } from '../model/index.js';
import type { Ctx } from './context.js';

/** The record of `ref`, or HANDLE_INVALID [class, ref]. */
export function read<C extends ClassName>(ctx: Ctx, cls: C, ref: string): Rec<C> {
  const rec = ctx.svc.db.get(cls, ref);
  if (rec === undefined) throw new ApiError('HANDLE_INVALID', [cls, ref]);
  return rec as Rec<C>;
}

/** Typed iteration over a table. */
export function* rows<C extends ClassName>(ctx: Ctx, cls: C): Generator<[string, Rec<C>]> {
  for (const [ref, row] of ctx.svc.db.all(cls)) yield [ref, row.rec as Rec<C>];
}

export function identity(ctx: Ctx): { ref: string; uuid: string } {
  return { ref: newRef(ctx.svc.random), uuid: newUuid(ctx.svc.random) };
}

export function now(ctx: Ctx): string {
  return formatDateTime(ctx.svc.clock.now());
}

export function asRec(r: object): AnyRec {
  return r as AnyRec;
}

/** A plain checked write of one field (explicit setters with no further rules). */
export function setField(ctx: Ctx, cls: ClassName, ref: string, field: string, value: unknown): void {
  read(ctx, cls, ref);
  ctx.svc.db.transact((tx) => tx.update(cls, ref, { [field]: value }));
}
