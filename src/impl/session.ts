// Sessions: login_with_password against the local root credentials, logout, idle expiry and a
// per-user bound. Sessions live only in memory (xapi: the session table is not persistent).
import { ApiError } from '../model/errors.js';
import type { Services, Ctx } from './context.js';
import { identity, now, rows } from './util.js';

/** Last activity per session, kept beside the record so reads do not cost a DB commit each. */
const lastActive = new WeakMap<Services, Map<string, number>>();

function activity(svc: Services): Map<string, number> {
  let m = lastActive.get(svc);
  if (m === undefined) {
    m = new Map();
    lastActive.set(svc, m);
  }
  return m;
}

export async function loginWithPassword(
  ctx: Ctx,
  uname: string,
  pwd: string,
  _version: string,
  originator: string,
): Promise<string> {
  const svc = ctx.svc;
  if (!(await svc.auth.verify(uname, pwd))) {
    // xapi sleeps before answering to slow down password guessing.
    await new Promise((r) => svc.clock.setTimeout(() => r(undefined), svc.config.authFailureDelayMs));
    throw new ApiError('SESSION_AUTHENTICATION_FAILED', [uname, 'Authentication failure']);
  }
  const { ref, uuid } = identity(ctx);
  const mine = [...rows(ctx, 'session')].filter(([, s]) => s.auth_user_name === uname);
  const act = activity(svc);
  svc.db.transact((tx) => {
    // Past the bound, the least recently active sessions of this user go first.
    mine.sort(([a], [b]) => (act.get(a) ?? 0) - (act.get(b) ?? 0));
    for (const [old] of mine.slice(0, Math.max(0, mine.length - svc.config.sessionsPerUserMax + 1))) {
      tx.delete('session', old);
      act.delete(old);
    }
    tx.create('session', ref, {
      uuid,
      this_host: svc.hostRef,
      this_user: 'OpaqueRef:NULL',
      last_active: now(ctx),
      pool: false,
      is_local_superuser: true,
      auth_user_sid: '',
      auth_user_name: uname,
      rbac_permissions: [],
      originator,
      validation_time: now(ctx),
    });
  });
  act.set(ref, svc.clock.now());
  return ref;
}

/** Raises SESSION_INVALID unless `ref` names a live session; records the activity. */
export function checkSession(svc: Services, ref: string): void {
  if (typeof ref !== 'string' || svc.db.get('session', ref) === undefined) {
    // Not String(ref) on arrays/structs: a deeply nested array would overflow the stack.
    const shown = typeof ref === 'string' ? ref : typeof ref === 'object' && ref !== null ? '' : String(ref);
    throw new ApiError('SESSION_INVALID', [shown]);
  }
  activity(svc).set(ref, svc.clock.now());
}

export function logout(ctx: Ctx): void {
  destroySession(ctx.svc, ctx.session);
}

function destroySession(svc: Services, ref: string): void {
  if (svc.db.get('session', ref) === undefined) return;
  svc.db.transact((tx) => tx.delete('session', ref));
  activity(svc).delete(ref);
}

/** Destroys sessions idle longer than the configured limit. Returns how many went. */
export function sweepSessions(svc: Services): number {
  const act = activity(svc);
  const cutoff = svc.clock.now() - svc.config.sessionIdleMs;
  const stale = [...svc.db.all('session').keys()].filter((ref) => (act.get(ref) ?? 0) < cutoff);
  if (stale.length > 0) {
    svc.db.transact((tx) => {
      for (const ref of stale) tx.delete('session', ref);
    });
    for (const ref of stale) act.delete(ref);
  }
  return stale.length;
}
