// One API call, protocol-independent: method lookup -> session -> parameter count -> types ->
// references -> RBAC -> (Async: task) -> implementation. Every failure becomes [CODE, params…];
// anything that is not an ApiError is a bug, logged and answered with INTERNAL_ERROR.
import { BugError } from '../base/assert.js';
import { newRef } from '../base/ids.js';
import type { Logger } from '../base/log.js';
import type { Ctx, Services } from '../impl/context.js';
import { checkSession } from '../impl/session.js';
import { completeTask, createTask, failTask } from '../impl/task.js';
import { coerce } from '../model/derive/values.js';
import { ApiError } from '../model/errors.js';
import { isObjectClass } from '../model/index.js';
import type { Ty } from '../model/types.js';
import { NULL_REF, t } from '../model/types.js';
import { encodeValue } from '../rpc/xml.js';
import { hasAsync, listMethodNames, type Method } from './methods.js';

/**
 * The signal of every synchronous call: only tasks can be cancelled, so nothing ever aborts it.
 * One shared instance instead of an AbortController per call; code must only read `aborted`
 * (a listener added per call would pile up here).
 */
const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/**
 * Calls a pool member answers itself (xapi's emergency calls, datamodel.ml `emergency_calls`);
 * every other call on a member gets HOST_IS_SLAVE naming the master, so clients follow it.
 */
const MEMBER_CALLS: ReadonlySet<string> = new Set([
  'pool.emergency_transition_to_master',
  'pool.emergency_reset_master',
  'session.slave_local_login_with_password',
  'session.local_logout',
  'host.is_in_emergency_mode',
]);

/**
 * Calls of the master that repair the pool itself: they must work while it has no quorum (a pool
 * that lost hosts is made whole again by forgetting them), so neither the quorum check nor the
 * wait for acknowledgement holds them back.
 */
const REPAIR_CALLS: ReadonlySet<string> = new Set([
  'pool.recover_slaves',
  'pool.sync_database',
  'pool.designate_new_master',
  'host.destroy',
  'host.declare_dead',
]);

/**
 * The context of one synchronous call. Reads are most calls, and they need neither an operation
 * ref nor a logger, so both are made on first use. A class, not an object literal with getters:
 * V8 builds an accessor literal on a slow path (about 1 µs per call, against 40 ns). Its getters
 * live on the prototype, so a spread copy (`{ ...ctx }`) would lose `opRef` and `log`: build a
 * derived context field by field, as `startAsync` does.
 */
class CallCtx implements Ctx {
  readonly task = undefined;
  readonly signal = NEVER_ABORTED;
  private ref: string | undefined;
  private logger: Logger | undefined;

  constructor(
    readonly svc: Services,
    readonly session: string,
    private readonly call: string,
  ) {}

  get opRef(): string {
    return (this.ref ??= newRef(this.svc.random));
  }

  get log(): Logger {
    return (this.logger ??= this.svc.log.child({ call: this.call }));
  }
}

export type CallOutcome =
  { ok: true; ty: Ty; value: unknown; bare: boolean } | { ok: false; error: string[] };

export class Pipeline {
  private readonly listMethods: string[];

  constructor(
    private readonly svc: Services,
    private readonly methods: Map<string, Method>,
  ) {
    this.listMethods = listMethodNames(methods);
  }

  async call(name: string, params: readonly unknown[]): Promise<CallOutcome> {
    try {
      if (name === 'system.listMethods') {
        return { ok: true, ty: t.set(t.string), value: this.listMethods, bare: true };
      }
      const isAsync = name.startsWith('Async.');
      const method = this.methods.get(isAsync ? name.slice('Async.'.length) : name);
      if (method === undefined || (isAsync && !hasAsync(method))) {
        // xapi validates the session first when the call carries one.
        if (params.length > 0 && typeof params[0] === 'string' && params[0].startsWith('OpaqueRef:')) {
          checkSession(this.svc, params[0]);
        }
        throw new ApiError('MESSAGE_METHOD_UNKNOWN', [name]);
      }
      const local = MEMBER_CALLS.has(method.name);
      const pool = this.svc.cluster;
      if (!local && !pool.isMaster) throw new ApiError('HOST_IS_SLAVE', [pool.masterAddress]);
      // xapi matches the parameter count before it looks at the session (gen_server.ml).
      this.checkCount(method, name, params);
      const ctx = this.prepare(method, name, params);
      const args = this.checkArgs(method, name, params);
      const audited = method.def.roles !== 'read-only' || method.def.sessionless;
      // A write waits for a change of master to finish and is refused without a quorum; its reply
      // waits until a quorum of the pool holds it (docs/replication.md).
      const replicated = !local && !REPAIR_CALLS.has(method.name) && method.def.roles !== 'read-only';
      try {
        if (replicated) await pool.beforeWrite();
        const out: CallOutcome = isAsync
          ? {
              ok: true,
              ty: t.ref('task'),
              value: this.startAsync(ctx, method, args, replicated),
              bare: false,
            }
          : { ok: true, ty: method.def.result, value: await method.invoke(ctx, args), bare: false };
        if (replicated && !isAsync) await pool.afterWrite();
        if (audited) this.audit(ctx.session, name, method, args, 'ok');
        return out;
      } catch (e) {
        if (audited)
          this.audit(ctx.session, name, method, args, e instanceof ApiError ? e.code : 'INTERNAL_ERROR');
        throw e;
      }
    } catch (e) {
      return { ok: false, error: this.errorInfo(e, name) };
    }
  }

  /** One audit line: the caller, the call, its arguments (never for secret messages), the outcome. */
  private audit(
    session: string,
    name: string,
    method: Method,
    args: readonly unknown[],
    outcome: string,
  ): void {
    const who = session === '' ? undefined : this.svc.db.get('session', session);
    this.svc.audit.info(
      {
        user: typeof who?.auth_user_name === 'string' ? who.auth_user_name : undefined,
        session: typeof who?.uuid === 'string' ? who.uuid : undefined,
        call: name,
        args: method.def.secret ? '(redacted)' : args,
        outcome,
      },
      'call',
    );
  }

  private prepare(method: Method, name: string, params: readonly unknown[]): Ctx {
    let session = '';
    if (!method.def.sessionless) {
      session = params[0] as string;
      checkSession(this.svc, session);
    }
    return new CallCtx(this.svc, session, name);
  }

  private checkCount(method: Method, name: string, params: readonly unknown[]): void {
    const decl = method.def.params;
    const offset = method.def.sessionless ? 0 : 1;
    const given = params.length - offset;
    const required = decl.filter((p) => p.default === undefined).length;
    if (given < required || given > decl.length) {
      throw new ApiError('MESSAGE_PARAMETER_COUNT_MISMATCH', [
        name,
        String(decl.length + offset),
        String(params.length),
      ]);
    }
  }

  private checkArgs(method: Method, name: string, params: readonly unknown[]): unknown[] {
    const decl = method.def.params;
    const offset = method.def.sessionless ? 0 : 1;
    const given = params.length - offset;
    const resolve = this.svc.db.resolve;
    return decl.map((p, i) => {
      const raw = i < given ? params[i + offset] : p.default;
      const v = coerce(p.ty, raw, p.name, resolve);
      if (
        p.ty.kind === 'ref' &&
        isObjectClass(p.ty.cls) &&
        v !== NULL_REF &&
        this.svc.db.get(p.ty.cls, v as string) === undefined
      ) {
        throw new ApiError('HANDLE_INVALID', [p.ty.cls, v as string]);
      }
      return v;
    });
  }

  private startAsync(ctx: Ctx, method: Method, args: unknown[], replicated: boolean): string {
    const task = createTask(ctx, `Async.${method.name}`, '');
    const abort = new AbortController();
    this.svc.taskAborts.set(task, abort);
    const taskCtx: Ctx = {
      svc: ctx.svc,
      session: ctx.session,
      task,
      opRef: task,
      signal: abort.signal,
      log: ctx.log,
    };
    // The task records the outcome; the caller polls or watches events for it.
    void (async () => {
      try {
        const value = await method.invoke(taskCtx, args);
        if (replicated) await this.svc.cluster.afterWrite();
        const ty = method.def.result;
        const cls = ty.kind === 'ref' ? ty.cls : '';
        completeTask(this.svc, task, ty.kind === 'void' ? '' : encodeValue(ty, value), cls);
      } catch (e) {
        failTask(this.svc, task, this.errorInfo(e, `Async.${method.name}`));
      }
    })();
    return task;
  }

  private errorInfo(e: unknown, name: string): string[] {
    if (e instanceof ApiError) return [e.code, ...e.params];
    const message = e instanceof Error ? e.message : String(e);
    this.svc.log.error(
      { call: name, err: e instanceof Error ? e.stack : message, bug: e instanceof BugError },
      'internal error',
    );
    return ['INTERNAL_ERROR', message];
  }
}
