// The method table, derived from the model: every explicit message with its handler, every
// implicit message, and the Async.* twin of each async message. system.listMethods reads it too.
import type { Ctx } from '../impl/context.js';
import { runImplicit } from '../impl/generic.js';
import { handlers } from '../impl/index.js';
import type { MessageDef } from '../model/define.js';
import { implicitMessages, noAsyncClasses } from '../model/derive/implicit.js';
import { classes } from '../model/index.js';

export interface Method {
  /** Wire name without the Async. prefix, e.g. "VM.start". */
  readonly name: string;
  readonly cls: string;
  readonly def: MessageDef;
  readonly invoke: (ctx: Ctx, args: readonly unknown[]) => unknown;
}

export function buildMethods(): Map<string, Method> {
  const table = new Map<string, Method>();
  const explicit = handlers as unknown as Record<
    string,
    Record<string, (ctx: Ctx, ...a: unknown[]) => unknown>
  >;
  for (const [cls, def] of Object.entries(classes)) {
    for (const [msg, mdef] of Object.entries(def.messages as Record<string, MessageDef>)) {
      const fn = explicit[cls]?.[msg];
      if (fn === undefined) throw new Error(`no handler for ${cls}.${msg}`);
      table.set(`${cls}.${msg}`, {
        name: `${cls}.${msg}`,
        cls,
        def: mdef,
        invoke: (ctx, args) => fn(ctx, ...args),
      });
    }
    for (const im of implicitMessages(def)) {
      table.set(`${cls}.${im.name}`, {
        name: `${cls}.${im.name}`,
        cls,
        def: im.def,
        invoke: (ctx, args) => runImplicit(ctx, cls, im.implicit, args),
      });
    }
  }
  return table;
}

/** True when `Async.<name>` exists for this method. */
export function hasAsync(m: Method): boolean {
  if (noAsyncClasses.has(m.cls)) return false;
  // Only explicit messages declared async get an Async twin (implicit getters/setters do not).
  return m.def.async;
}

/** The names system.listMethods returns, in table order, with Async twins. */
export function listMethodNames(table: Map<string, Method>): string[] {
  const out: string[] = ['system.listMethods'];
  for (const m of table.values()) {
    out.push(m.name);
    if (hasAsync(m)) out.push(`Async.${m.name}`);
  }
  return out;
}
