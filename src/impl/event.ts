// Events: event.from (long-poll on DB generations, coalesced one event per object), event.inject,
// and the legacy register/next/unregister queues. Tokens are "%020d,%020d" (DB generation,
// message generation) exactly as xapi prints them, and survive a restart because generations do.
import { limits } from '../base/limits.js';
import type { Change, Db } from '../db/db.js';
import { ApiError } from '../model/errors.js';
import { classDef, classes, isObjectClass } from '../model/index.js';
import type { Typed } from '../model/types.js';
import { t } from '../model/types.js';
import type { Ctx, Services } from './context.js';

const eventBase = {
  id: t.string,
  timestamp: t.string,
  class: t.string,
  operation: t.string,
  ref: t.string,
};
const eventDelTy = t.struct(eventBase);
const eventTy = t.struct({ ...eventBase, snapshot: t.dynamic });
const fromResultTy = t.struct({
  events: t.set(t.dynamic),
  valid_ref_counts: t.map(t.string, t.int32),
  token: t.string,
});

/** Session refs are credentials: xapi declares the class `~gen_events:false`. */
const noEventClasses = new Set(['session']);

/** Lower-case wire name → class name ("vm" → "VM"), for classes that generate events. */
const byLower = new Map(
  Object.keys(classes)
    .filter((c) => isObjectClass(c) && !noEventClasses.has(c))
    .map((c) => [c.toLowerCase(), c]),
);

export function formatToken(gen: number): string {
  return `${String(gen).padStart(20, '0')},${'0'.padStart(20, '0')}`;
}

function parseToken(token: string): number {
  if (token === '') return 0;
  const m = /^(\d{1,20})(?:,(\d{1,20}))?$/.exec(token);
  if (m === null) throw new ApiError('EVENT_FROM_TOKEN_PARSE_FAILURE', [token]);
  return Number(m[1]);
}

type Filter = (c: Change) => boolean;

/** "*", "vm", "vm/OpaqueRef:…" (classes matched case-insensitively, as xapi does). */
function parseSubscriptions(subs: readonly string[]): {
  filter: Filter;
  classFilter: (cls: string) => boolean;
} {
  const classSet = new Set<string>();
  const objects = new Set<string>();
  let everything = false;
  for (const s of subs) {
    if (s === '*') {
      everything = true;
      continue;
    }
    const [clsPart, refPart] = s.split('/', 2);
    const cls = byLower.get((clsPart ?? '').toLowerCase());
    if (cls === undefined) throw new ApiError('EVENT_SUBSCRIPTION_PARSE_FAILURE', [s]);
    if (refPart === undefined) classSet.add(cls);
    else objects.add(refPart);
    if (refPart !== undefined) classSet.add(`${cls}/`);
  }
  const classFilter = (cls: string) =>
    !noEventClasses.has(cls) && (everything || classSet.has(cls) || classSet.has(`${cls}/`));
  const filter: Filter = (c) =>
    !noEventClasses.has(c.cls) && (everything || classSet.has(c.cls) || objects.has(c.ref));
  return { filter, classFilter };
}

function eventOf(db: Db, c: Change, timestamp: string, id: string): Typed {
  const base = { id, timestamp, class: c.cls.toLowerCase(), operation: c.op, ref: c.ref };
  if (c.op === 'del') return { ty: eventDelTy, value: base };
  const def = classDef(c.cls);
  return {
    ty: eventTy,
    value: { ...base, snapshot: { ty: t.record(def?.name ?? c.cls), value: db.get(c.cls, c.ref) } },
  };
}

function validRefCounts(db: Db): Record<string, number> {
  const out: Record<string, number> = {};
  for (const cls of byLower.values()) out[cls.toLowerCase()] = db.count(cls);
  return out;
}

export async function eventFrom(ctx: Ctx, subs: string[], token: string, timeout: number): Promise<Typed> {
  const db = ctx.svc.db;
  const since = parseToken(token);
  const { filter, classFilter } = parseSubscriptions(subs);
  const timeoutMs = Math.max(0, Math.min(timeout, limits.eventFromTimeoutSecondsMax)) * 1000;
  const deadline = ctx.svc.clock.monotonic() + timeoutMs;
  let from = since;
  for (;;) {
    const gen = db.generation;
    const changes = db.changesSince(since, classFilter).filter(filter);
    if (changes.length > 0 || ctx.svc.clock.monotonic() >= deadline || ctx.signal.aborted) {
      const events = changes.map((c) => eventOf(db, c, '0.0', String(c.gen)));
      return {
        ty: fromResultTy,
        value: { events, valid_ref_counts: validRefCounts(db), token: formatToken(gen) },
      };
    }
    from = Math.max(from, gen);
    await db.waitForChange(from, Math.max(1, deadline - ctx.svc.clock.monotonic()));
  }
}

export function eventInject(ctx: Ctx, cls: string, ref: string): string {
  const name = byLower.get(cls.toLowerCase());
  if (name === undefined || ctx.svc.db.get(name, ref) === undefined)
    throw new ApiError('HANDLE_INVALID', [cls, ref]);
  ctx.svc.db.transact((tx) => tx.touch(name, ref));
  return formatToken(ctx.svc.db.generation - 1);
}

// ---- legacy event.register / event.next / event.unregister ----

interface Queue {
  subs: Set<string>;
  events: Typed[];
  lost: boolean;
  wake: (() => void) | undefined;
}

const queues = new WeakMap<Services, Map<string, Queue>>();
let eventCounter = 0;

function queuesOf(svc: Services): Map<string, Queue> {
  let m = queues.get(svc);
  if (m === undefined) {
    const map = new Map<string, Queue>();
    queues.set(svc, map);
    svc.db.onCommit((changes) => deliver(svc, map, changes));
    m = map;
  }
  return m;
}

function deliver(svc: Services, map: Map<string, Queue>, changes: readonly Change[]): void {
  for (const [session, q] of map) {
    if (svc.db.get('session', session) === undefined) {
      map.delete(session);
      continue;
    }
    const { filter } = parseSubscriptions([...q.subs]);
    const ts = String(Math.floor(svc.clock.now() / 1000));
    for (const c of changes) {
      if (!filter(c)) continue;
      if (q.events.length >= limits.legacyEventQueueMax) q.lost = true;
      else q.events.push(eventOf(svc.db, c, ts, String(++eventCounter)));
    }
    if (q.events.length > 0 || q.lost) q.wake?.();
  }
}

export function eventRegister(ctx: Ctx, subs: string[]): void {
  parseSubscriptions(subs);
  const map = queuesOf(ctx.svc);
  const q = map.get(ctx.session) ?? { subs: new Set<string>(), events: [], lost: false, wake: undefined };
  for (const s of subs) q.subs.add(s);
  map.set(ctx.session, q);
}

export function eventUnregister(ctx: Ctx, subs: string[]): void {
  const q = queuesOf(ctx.svc).get(ctx.session);
  if (q === undefined) return;
  for (const s of subs) q.subs.delete(s);
}

export async function eventNext(ctx: Ctx): Promise<Typed> {
  const q = queuesOf(ctx.svc).get(ctx.session);
  if (q === undefined || q.subs.size === 0) throw new ApiError('SESSION_NOT_REGISTERED', [ctx.session]);
  while (q.events.length === 0 && !q.lost && !ctx.signal.aborted) {
    await new Promise<void>((resolve) => {
      const timer = ctx.svc.clock.setTimeout(resolve, limits.eventFromTimeoutSecondsMax * 1000);
      q.wake = () => {
        ctx.svc.clock.clearTimeout(timer);
        resolve();
      };
    });
    if (ctx.svc.db.get('session', ctx.session) === undefined)
      throw new ApiError('SESSION_INVALID', [ctx.session]);
  }
  q.wake = undefined;
  if (q.lost) {
    q.lost = false;
    q.events = [];
    throw new ApiError('EVENTS_LOST', []);
  }
  const out = q.events;
  q.events = [];
  return { ty: t.set(t.dynamic), value: out };
}
