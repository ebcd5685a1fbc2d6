// Small classes: messages (alerts), secrets, consoles, host clock queries and SR/PBD plumbing.
import { ApiError } from '../model/errors.js';
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

export function supportedSrTypes(): string[] {
  return ['ext'];
}

export function plugPbd(ctx: Ctx, pbd: string): void {
  const rec = read(ctx, 'PBD', pbd);
  if (rec.host !== ctx.svc.hostRef)
    throw new ApiError('OPERATION_NOT_ALLOWED', ['PBD belongs to another host']);
  if (!ctx.svc.storage.has(rec.SR)) throw new ApiError('SR_HAS_NO_PBDS', [rec.SR]);
  ctx.svc.db.transact((tx) => tx.update('PBD', pbd, { currently_attached: true }));
}

export function unplugPbd(ctx: Ctx, pbd: string): void {
  const rec = read(ctx, 'PBD', pbd);
  for (const v of read(ctx, 'SR', rec.SR).VDIs) {
    for (const vbd of read(ctx, 'VDI', v).VBDs) {
      if (ctx.svc.db.get('VBD', vbd)?.currently_attached === true)
        throw new ApiError('VDI_IN_USE', [v, 'unplug']);
    }
  }
  ctx.svc.db.transact((tx) => tx.update('PBD', pbd, { currently_attached: false }));
}
