// Small classes: messages (alerts), secrets, consoles and host clock queries.
import type { Rec } from '../model/index.js';
import { NULL_REF } from '../model/types.js';
import { limits } from '../base/limits.js';
import { parseDateTime } from '../base/clock.js';
import type { Ctx } from './context.js';
import { identity, now, read } from './util.js';

export function createMessage(
  ctx: Ctx,
  name: string,
  priority: number,
  cls: string,
  objUuid: string,
  body: string,
): string {
  const { ref, uuid } = identity(ctx);
  const all = [...ctx.svc.db.all('message').values()];
  ctx.svc.db.transact((tx) => {
    // Oldest messages go first past the bound (xapi keeps 10000).
    for (const old of all.slice(0, Math.max(0, all.length - limits.messagesKeptMax + 1)))
      tx.delete('message', old.ref);
    tx.create('message', ref, { uuid, name, priority, cls, obj_uuid: objUuid, timestamp: now(ctx), body });
  });
  return ref;
}

export function destroyMessage(ctx: Ctx, ref: string): void {
  read(ctx, 'message', ref);
  ctx.svc.db.transact((tx) => tx.delete('message', ref));
}

export function messagesSince(ctx: Ctx, since: string): Record<string, Rec<'message'>> {
  const cutoff = parseDateTime(since);
  const out: Record<string, Rec<'message'>> = {};
  for (const [ref, row] of ctx.svc.db.all('message')) {
    const rec = row.rec as Rec<'message'>;
    if (parseDateTime(rec.timestamp) > cutoff) out[ref] = rec;
  }
  return out;
}

export function createSimple(cls: 'secret' | 'console', ctx: Ctx, args: Record<string, unknown>): string {
  const { ref, uuid } = identity(ctx);
  if (cls === 'console' && args.VM !== undefined && args.VM !== NULL_REF) read(ctx, 'VM', args.VM as string);
  ctx.svc.db.transact((tx) => tx.create(cls, ref, { ...args, uuid }));
  return ref;
}

export function destroySimple(cls: 'secret' | 'console', ctx: Ctx, ref: string): void {
  read(ctx, cls, ref);
  ctx.svc.db.transact((tx) => tx.delete(cls, ref));
}

export function serverTime(ctx: Ctx, host: string): string {
  read(ctx, 'host', host);
  return now(ctx);
}
