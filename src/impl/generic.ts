// Implementations of the implicit messages (getters, setters, map/set editing, lookups) for every
// class, driven by the field's declared type. Classes override one by declaring it explicitly.
import { evalWhere, parseWhere } from '../db/where.js';
import type { ImplicitKind } from '../model/derive/implicit.js';
import { ApiError } from '../model/errors.js';
import { classDef } from '../model/index.js';
import type { Ctx } from './context.js';

function get(ctx: Ctx, cls: string, ref: string): Record<string, unknown> {
  const rec = ctx.svc.db.get(cls, ref);
  if (rec === undefined) throw new ApiError('HANDLE_INVALID', [cls, ref]);
  return rec;
}

function allRecords(ctx: Ctx, cls: string, keep: (rec: Record<string, unknown>) => boolean) {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [ref, row] of ctx.svc.db.all(cls)) if (keep(row.rec)) out[ref] = row.rec;
  return out;
}

export function runImplicit(ctx: Ctx, cls: string, kind: ImplicitKind, args: readonly unknown[]): unknown {
  const db = ctx.svc.db;
  const ref = args[0] as string;
  switch (kind.kind) {
    case 'get_record':
      return get(ctx, cls, ref);
    case 'get_by_uuid': {
      const found = db.refByUuid(cls, args[0] as string);
      if (found === undefined) throw new ApiError('UUID_INVALID', [cls, args[0] as string]);
      return found;
    }
    case 'get_all':
      return [...db.all(cls).keys()];
    case 'get_all_records':
      return allRecords(ctx, cls, () => true);
    case 'get_all_records_where': {
      const expr = parseWhere(args[0] as string);
      return allRecords(ctx, cls, (rec) => evalWhere(expr, rec));
    }
    case 'get_by_name_label':
      return [...db.all(cls).values()].filter((r) => r.rec.name_label === args[0]).map((r) => r.ref);
    case 'get_field':
      return get(ctx, cls, ref)[kind.field];
    case 'set_field':
      return update(ctx, cls, ref, () => ({ [kind.field]: args[1] }));
    case 'add_to_map':
      return update(ctx, cls, ref, (rec) => {
        const m = rec[kind.field] as Record<string, unknown>;
        const key = args[1] as string;
        if (Object.hasOwn(m, key)) throw new ApiError('MAP_DUPLICATE_KEY', [cls, kind.field, ref, key]);
        return { [kind.field]: { ...m, [key]: args[2] } };
      });
    case 'remove_from_map':
      return update(ctx, cls, ref, (rec) => {
        const m = { ...(rec[kind.field] as Record<string, unknown>) };
        delete m[args[1] as string];
        return { [kind.field]: m };
      });
    case 'add_to_set':
      return update(ctx, cls, ref, (rec) => {
        const s = rec[kind.field] as unknown[];
        return { [kind.field]: s.includes(args[1]) ? s : [...s, args[1]] };
      });
    case 'remove_from_set':
      return update(ctx, cls, ref, (rec) => ({
        [kind.field]: (rec[kind.field] as unknown[]).filter((x) => x !== args[1]),
      }));
  }
}

function update(
  ctx: Ctx,
  cls: string,
  ref: string,
  patch: (rec: Record<string, unknown>) => Record<string, unknown>,
): void {
  const def = classDef(cls);
  if (def === undefined) throw new ApiError('HANDLE_INVALID', [cls, ref]);
  ctx.svc.db.transact((tx) => {
    const rec = tx.get(cls, ref);
    if (rec === undefined) throw new ApiError('HANDLE_INVALID', [cls, ref]);
    tx.update(cls, ref, patch(rec));
  });
}
