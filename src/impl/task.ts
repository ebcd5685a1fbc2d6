// Tasks: records for asynchronous calls and client-made tasks. A task ends as success (result is
// an XML-RPC <value> fragment, as xapi stores it), failure (error_info = [code, params…]) or
// cancelled. Finished tasks are garbage collected after limits.taskFinishedKeepMs.
import { limits } from '../base/limits.js';
import { ApiError } from '../model/errors.js';
import type { Ctx, Services } from './context.js';
import { identity, now, read } from './util.js';
import { formatDateTime } from '../base/clock.js';

export function createTask(ctx: Ctx, label: string, description: string): string {
  let pending = 0;
  for (const row of ctx.svc.db.all('task').values()) if (row.rec.status === 'pending') pending++;
  if (pending >= limits.tasksPendingMax) throw new ApiError('TOO_MANY_PENDING_TASKS', []);
  const { ref, uuid } = identity(ctx);
  ctx.svc.db.transact((tx) =>
    tx.create('task', ref, {
      uuid,
      name_label: label,
      name_description: description,
      created: now(ctx),
      status: 'pending',
      resident_on: ctx.svc.hostRef,
      allowed_operations: ['cancel'],
    }),
  );
  return ref;
}

export function completeTask(svc: Services, ref: string, resultXml: string, type: string): void {
  finish(svc, ref, { status: 'success', result: resultXml, type, progress: 1 });
}

export function failTask(svc: Services, ref: string, errorInfo: string[]): void {
  const cancelled = errorInfo[0] === 'TASK_CANCELLED';
  finish(svc, ref, { status: cancelled ? 'cancelled' : 'failure', error_info: errorInfo, progress: 1 });
}

function finish(svc: Services, ref: string, patch: Record<string, unknown>): void {
  svc.taskAborts.delete(ref);
  svc.db.transact((tx) => {
    const rec = tx.get('task', ref);
    // A client may destroy its task before the work ends; the outcome then has nowhere to go.
    if (rec === undefined || rec.status !== 'pending') return;
    tx.update('task', ref, {
      ...patch,
      finished: formatDateTime(svc.clock.now()),
      allowed_operations: ['destroy'],
    });
  });
}

export function cancelTask(ctx: Ctx, ref: string): void {
  const rec = read(ctx, 'task', ref);
  if (rec.status !== 'pending')
    throw new ApiError('OPERATION_NOT_ALLOWED', [`task ${rec.uuid} is not pending`]);
  const abort = ctx.svc.taskAborts.get(ref);
  if (abort !== undefined) abort.abort();
  else failTask(ctx.svc, ref, ['TASK_CANCELLED', ref]);
}

export function destroyTask(ctx: Ctx, ref: string): void {
  read(ctx, 'task', ref);
  ctx.svc.db.transact((tx) => tx.delete('task', ref));
}

export function setTaskField(ctx: Ctx, ref: string, field: string, value: unknown): void {
  read(ctx, 'task', ref);
  ctx.svc.db.transact((tx) => tx.update('task', ref, { [field]: value }));
}

/** Removes tasks finished longer ago than the keep period. */
export function sweepTasks(svc: Services): number {
  const cutoff = formatDateTime(svc.clock.now() - limits.taskFinishedKeepMs);
  const old = [...svc.db.all('task').values()]
    .filter((r) => r.rec.status !== 'pending' && (r.rec.finished as string) < cutoff)
    .map((r) => r.ref);
  if (old.length > 0) svc.db.transact((tx) => old.forEach((ref) => tx.delete('task', ref)));
  return old.length;
}
