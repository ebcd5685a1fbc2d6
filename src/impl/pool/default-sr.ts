// After a master change or a restore, the new master checks that the pool's default SR (where
// vm-install puts new disks, and suspend images go) names an SR that exists and is plugged on
// some host, and raises a pool message saying what to do when it does not (the guide asks the
// operator to check this by hand after an emergency transition).
import type { Rec } from '../../model/index.js';
import { NULL_REF } from '../../model/types.js';
import type { Ctx, Services } from '../context.js';
import { createMessage } from '../misc.js';

/** Why the default SR is not usable, or undefined when it is. */
export function defaultSrProblem(svc: Services): string | undefined {
  const pool = [...svc.db.all('pool').values()][0]?.rec as Rec<'pool'> | undefined;
  if (pool === undefined) return undefined;
  if (pool.default_SR === NULL_REF) return 'The pool has no default SR.';
  const sr = svc.db.get('SR', pool.default_SR) as Rec<'SR'> | undefined;
  if (sr === undefined) return `The pool's default SR ${pool.default_SR} does not exist.`;
  // Plugged where it can be used now: on the master, or on a host connected to it.
  const usable = sr.PBDs.some((p) => {
    const pbd = svc.db.get('PBD', p) as Rec<'PBD'> | undefined;
    return (
      pbd?.currently_attached === true && (pbd.host === svc.hostRef || svc.cluster.isConnected(pbd.host))
    );
  });
  if (!usable)
    return `The pool's default SR ${sr.name_label} (${sr.uuid}) is not plugged on the master or on any host connected to it.`;
  return undefined;
}

/** Checks the default SR and raises DEFAULT_SR_INVALID on the pool when it is not usable. */
export function checkDefaultSr(svc: Services): void {
  const problem = defaultSrProblem(svc);
  if (problem === undefined) return;
  const pool = [...svc.db.all('pool').values()][0]?.rec as Rec<'pool'> | undefined;
  svc.log.warn({ problem }, 'the default SR needs attention');
  createMessage(
    { svc, log: svc.log } as Ctx,
    'DEFAULT_SR_INVALID',
    3,
    'Pool',
    pool?.uuid ?? '',
    `${problem} Set one with: xe pool-param-set uuid=${pool?.uuid ?? '<pool>'} default-SR=<sr-uuid>`,
  );
}
