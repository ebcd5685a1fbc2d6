// Networks: create with a fresh bridge name, destroy only when no VIF or PIF uses them.
import { ApiError } from '../../model/errors.js';
import type { Rec } from '../../model/index.js';
import type { Ctx } from '../context.js';
import { identity, read } from '../util.js';

export function createNetwork(ctx: Ctx, args: Partial<Rec<'network'>>): string {
  const { ref, uuid } = identity(ctx);
  const used = new Set([...ctx.svc.db.all('network').values()].map((r) => r.rec.bridge));
  let bridge = args.bridge ?? '';
  if (bridge === '') {
    let n = 0;
    while (used.has(`xapi${n}`)) n++;
    bridge = `xapi${n}`;
  }
  ctx.svc.db.transact((tx) =>
    tx.create('network', ref, {
      ...args,
      uuid,
      bridge,
      PIFs: [],
      VIFs: [],
      allowed_operations: [],
      current_operations: {},
    }),
  );
  return ref;
}

export function destroyNetwork(ctx: Ctx, net: string): void {
  const rec = read(ctx, 'network', net);
  if (rec.VIFs.length > 0) throw new ApiError('NETWORK_CONTAINS_VIF', [rec.VIFs.join(',')]);
  if (rec.PIFs.length > 0) throw new ApiError('NETWORK_CONTAINS_PIF', [rec.PIFs.join(',')]);
  ctx.svc.db.transact((tx) => tx.delete('network', net));
}
