// The commands xe derives for every class it exposes: <class>-list, -param-list, -param-get,
// -param-set, -param-add, -param-remove, -param-clear. Field names, qualifiers and types come
// from the datamodel; only the default columns and filters per class are xe's own choices.
import type { ClassDef, FieldDef } from '../model/define.js';
import { classDef } from '../model/index.js';
import { coerceCli } from './coerce.js';
import { CliError, required, type CliCtx, type Command } from './context.js';
import {
  apiFieldName,
  cliClassName,
  cliFieldName,
  cliFieldOrder,
  computedFields,
  formatValue,
  layoutRecord,
  minimalJoin,
  recordFields,
  settable,
} from './records.js';

/** Classes xe has commands for, with its default list columns and filters. */
export const exposed: Record<
  string,
  { columns: readonly string[] | 'all'; filters?: Record<string, string> }
> = {
  pool: { columns: ['uuid', 'name_label', 'name_description', 'master', 'default_SR'] },
  host: { columns: ['uuid', 'name_label', 'name_description'] },
  host_cpu: { columns: ['uuid', 'number', 'vendor', 'speed', 'modelname'] },
  VM: { columns: ['uuid', 'name_label', 'power_state'], filters: { is_a_template: 'false' } },
  SR: { columns: ['uuid', 'name_label', 'name_description', 'host', 'type', 'content_type'] },
  VDI: { columns: ['uuid', 'name_label', 'name_description', 'virtual_size', 'read_only', 'sharable', 'SR'] },
  VBD: { columns: ['uuid', 'VM', 'VDI', 'device', 'empty'] },
  PBD: { columns: ['uuid', 'host', 'SR', 'device_config', 'currently_attached'] },
  network: { columns: ['uuid', 'name_label', 'name_description', 'bridge'] },
  PIF: { columns: ['uuid', 'device', 'VLAN', 'MAC', 'network', 'currently_attached', 'host'] },
  VIF: { columns: ['uuid', 'device', 'VM', 'network'] },
  task: { columns: ['uuid', 'name_label', 'name_description', 'status', 'progress'] },
  message: { columns: 'all' },
  secret: { columns: 'all' },
  console: { columns: ['uuid', 'VM', 'protocol', 'location'] },
};

/** Parameters that steer a command rather than filter records. */
const controlParams = new Set([
  'params',
  'minimal',
  'force',
  'multiple',
  'all',
  'uuid',
  'param-name',
  'param-key',
  'database',
]);

function def(cls: string): ClassDef {
  const d = classDef(cls);
  if (d === undefined) throw new Error(`unknown class ${cls}`);
  return d;
}

function fieldOf(d: ClassDef, cliName: string): [string, FieldDef] {
  const name = apiFieldName(d, cliName);
  const f = name === undefined ? undefined : d.fields[name];
  if (name === undefined || f === undefined) throw new CliError(`Unknown field '${cliName}'`);
  return [name, f];
}

async function allRecords(ctx: CliCtx, cls: string): Promise<[string, Record<string, unknown>][]> {
  return [...(await ctx.refs.records(cls)).entries()];
}

/** True when the record matches every `field=value` / `map:key=value` filter (on printed values). */
async function matches(
  ctx: CliCtx,
  d: ClassDef,
  rec: Record<string, unknown>,
  filters: Map<string, string>,
): Promise<boolean> {
  for (const [k, want] of filters) {
    const colon = k.indexOf(':');
    const computed = (computedFields[d.name] ?? []).find((c) => c.name === k);
    if (computed !== undefined) {
      if ((await computed.get(rec, ctx.refs)) !== want) return false;
      continue;
    }
    const [name, f] = fieldOf(d, colon > 0 ? k.slice(0, colon) : k);
    if (colon > 0 && f.ty.kind === 'set') {
      // `tags:contains=foo`: membership of the set.
      if (k.slice(colon + 1) !== 'contains')
        throw new CliError('Invalid syntax for set filtering (should be set-param:contains=key)');
      const items = await Promise.all(
        (rec[name] as unknown[]).map((x) => formatValue((f.ty as { of: FieldDef['ty'] }).of, x, ctx.refs)),
      );
      if (!items.includes(want)) return false;
      continue;
    }
    if (colon > 0) {
      if (f.ty.kind !== 'map') throw new CliError(`Field '${k.slice(0, colon)}' is not a set or map`);
      const m = rec[name] as Record<string, string>;
      if (m[k.slice(colon + 1)] !== want) return false;
      continue;
    }
    if (f.ty.kind === 'set') {
      const items = (await formatValue(f.ty, rec[name], ctx.refs, name)).split(name === 'tags' ? ', ' : '; ');
      if (!items.includes(want)) return false;
    } else if ((await formatValue(f.ty, rec[name], ctx.refs, name)) !== want) return false;
  }
  return true;
}

/** The records a command addresses: explicit filters plus the class's defaults. */
export async function select(
  ctx: CliCtx,
  cls: string,
  extraFilters: Map<string, string>,
): Promise<[string, Record<string, unknown>][]> {
  const d = def(cls);
  const out: [string, Record<string, unknown>][] = [];
  for (const [ref, rec] of await allRecords(ctx, cls))
    if (await matches(ctx, d, rec, extraFilters)) out.push([ref, rec]);
  return out;
}

function listFilters(ctx: CliCtx, cls: string): Map<string, string> {
  const filters = new Map<string, string>();
  for (const [k, v] of Object.entries(exposed[cls]?.filters ?? {})) filters.set(cliFieldName(k), v);
  for (const [k, v] of ctx.params) if (!controlParams.has(k)) filters.set(k, v);
  if (ctx.params.has('uuid')) filters.set('uuid', ctx.params.get('uuid') ?? '');
  return filters;
}

function columns(ctx: CliCtx, cls: string, d: ClassDef): string[] | undefined {
  const p = ctx.params.get('params');
  if (p === 'all') return undefined;
  // xe silently drops names that are not fields of the class.
  const computed = (computedFields[cls] ?? []).map((c) => c.name);
  if (p !== undefined) {
    return p
      .split(',')
      .map((c) => apiFieldName(d, c.trim()) ?? (computed.includes(c.trim()) ? c.trim() : undefined))
      .filter((c): c is string => c !== undefined);
  }
  const c = exposed[cls]?.columns;
  return c === 'all' || c === undefined ? undefined : [...c];
}

async function list(ctx: CliCtx, cls: string): Promise<void> {
  const d = def(cls);
  const rows = await select(ctx, cls, listFilters(ctx, cls));
  const only = columns(ctx, cls, d);
  const printed = await Promise.all(rows.map(([, rec]) => recordFields(d, rec, ctx.refs, only)));
  if (ctx.minimal) {
    ctx.io.out(minimalJoin(printed.map((fs) => fs[0]?.value ?? '')) + '\n');
    return;
  }
  for (const fs of printed) ctx.io.out(layoutRecord(fs) + '\n\n');
}

/** The single record named by uuid=, or xe's error. */
export async function byUuid(ctx: CliCtx, cls: string): Promise<[string, Record<string, unknown>]> {
  const uuid = required(ctx, 'uuid');
  const ref = (await ctx.call(`${cls}.get_by_uuid`, uuid)) as string;
  return [ref, (await ctx.call(`${cls}.get_record`, ref)) as Record<string, unknown>];
}

async function paramList(ctx: CliCtx, cls: string): Promise<void> {
  const [, rec] = await byUuid(ctx, cls);
  ctx.io.out(layoutRecord(await recordFields(def(cls), rec, ctx.refs)) + '\n\n');
}

async function paramGet(ctx: CliCtx, cls: string): Promise<void> {
  const d = def(cls);
  const [, rec] = await byUuid(ctx, cls);
  const [name, f] = fieldOf(d, required(ctx, 'param-name'));
  const key = ctx.params.get('param-key');
  // xe ignores param-key on a field that is not a map.
  if (key !== undefined && f.ty.kind === 'map') {
    const v = (rec[name] as Record<string, string>)[key];
    if (v === undefined) throw new CliError(`Key ${key} not found in map`);
    ctx.io.out(v + '\n');
    return;
  }
  ctx.io.out((await formatValue(f.ty, rec[name], ctx.refs, name)) + '\n');
}

async function paramSet(ctx: CliCtx, cls: string): Promise<void> {
  const d = def(cls);
  const [ref] = await byUuid(ctx, cls);
  for (const [k, v] of ctx.params) {
    if (k === 'uuid') continue;
    const colon = k.indexOf(':');
    const [name, f] = fieldOf(d, colon > 0 ? k.slice(0, colon) : k);
    if (!settable(d, name)) throw new CliError(`Field '${k}' is read-only.`);
    if (colon > 0) {
      if (f.ty.kind !== 'map') throw new CliError(`Parameter ${cliFieldName(name, cls)} is not a map`);
      const key = k.slice(colon + 1);
      await ctx.call(`${cls}.remove_from_${name}`, ref, key);
      await ctx.call(`${cls}.add_to_${name}`, ref, key, v);
    } else {
      await ctx.call(`${cls}.set_${name}`, ref, await coerceCli(ctx, f.ty, v, cliFieldName(name, cls)));
    }
  }
}

async function paramAdd(ctx: CliCtx, cls: string): Promise<void> {
  const d = def(cls);
  const [ref] = await byUuid(ctx, cls);
  const [name, f] = fieldOf(d, required(ctx, 'param-name'));
  if (f.qualifier !== 'RW' || (f.ty.kind !== 'map' && f.ty.kind !== 'set'))
    throw new CliError(`Parameter ${cliFieldName(name, cls)} cannot be added to`);
  if (f.ty.kind === 'set') {
    await ctx.call(`${cls}.add_${name}`, ref, required(ctx, 'param-key'));
    return;
  }
  for (const [k, v] of ctx.params)
    if (k !== 'uuid' && k !== 'param-name') await ctx.call(`${cls}.add_to_${name}`, ref, k, v);
}

async function paramRemove(ctx: CliCtx, cls: string): Promise<void> {
  const d = def(cls);
  const [ref] = await byUuid(ctx, cls);
  const [name, f] = fieldOf(d, required(ctx, 'param-name'));
  const key = required(ctx, 'param-key');
  if (f.qualifier !== 'RW' || (f.ty.kind !== 'map' && f.ty.kind !== 'set'))
    throw new CliError(`Parameter ${cliFieldName(name, cls)} cannot be removed from`);
  await ctx.call(f.ty.kind === 'set' ? `${cls}.remove_${name}` : `${cls}.remove_from_${name}`, ref, key);
}

async function paramClear(ctx: CliCtx, cls: string): Promise<void> {
  const d = def(cls);
  const [ref] = await byUuid(ctx, cls);
  const [name, f] = fieldOf(d, required(ctx, 'param-name'));
  if (f.qualifier !== 'RW') throw new CliError(`Parameter ${cliFieldName(name, cls)} is read-only`);
  const empty = f.ty.kind === 'map' ? {} : f.ty.kind === 'set' ? [] : f.ty.kind === 'string' ? '' : undefined;
  if (empty === undefined) throw new CliError(`Parameter ${cliFieldName(name, cls)} cannot be cleared`);
  await ctx.call(`${cls}.set_${name}`, ref, empty);
}

/** The seven generic commands of one class, with xe's parameter lists and help texts (gen_cmds). */
export function genericCommands(cls: string): Command[] {
  const c = cliClassName(cls);
  const d = def(cls);
  const fields = cliFieldOrder(d);
  const names = (fs: readonly string[]) => fs.map((f) => cliFieldName(f, cls));
  const sets = fields.filter((f) => d.fields[f]?.ty.kind === 'set');
  const writable = fields.filter((f) => settable(d, f));
  const maps = writable.filter((f) => d.fields[f]?.ty.kind === 'map');
  // Only vm-list, sr-list and network-list are in xe's common command list.
  const standard = cls === 'VM' || cls === 'SR' || cls === 'network';
  return [
    {
      name: `${c}-list`,
      reqd: [],
      optional: ['params', ...names(fields), ...names(sets).map((f) => `${f}:contains`)],
      help: `Lists all the ${c}s, filtering on the optional arguments. To filter on map parameters, use the syntax 'map-param:key=value'`,
      standard,
      run: (ctx) => list(ctx, cls),
    },
    {
      name: `${c}-param-list`,
      reqd: ['uuid'],
      optional: [],
      help: 'Lists all the parameters of the object specified by the uuid.',
      run: (ctx) => paramList(ctx, cls),
    },
    {
      name: `${c}-param-get`,
      reqd: ['uuid', 'param-name'],
      optional: ['param-key'],
      help: "Gets the parameter specified of the object. If the parameter is a map of key=value pairs, use 'param-key=<key>' to get the value associated with a particular key.",
      run: (ctx) => paramGet(ctx, cls),
    },
    {
      name: `${c}-param-set`,
      reqd: ['uuid'],
      optional: [...names(writable), ...names(maps).map((f) => `${f}:`)],
      help: "Sets the parameter specified. If param-value is not given, the parameter is set to a null value. To set a (key,value) pair in a map parameter, use the syntax 'map-param:key=value'.",
      run: (ctx) => paramSet(ctx, cls),
    },
    {
      name: `${c}-param-add`,
      reqd: ['uuid', 'param-name'],
      optional: ['param-key'],
      help: "Adds to a set or map parameter. If the parameter is a set, use param-key=<key to add>. If the parameter is a map, pass the values to add as 'key=value' pairs.",
      run: (ctx) => paramAdd(ctx, cls),
    },
    {
      name: `${c}-param-remove`,
      reqd: ['uuid', 'param-name', 'param-key'],
      optional: [],
      help: 'Removes a member or a key,value pair from a set/map respectively.',
      run: (ctx) => paramRemove(ctx, cls),
    },
    {
      name: `${c}-param-clear`,
      reqd: ['uuid', 'param-name'],
      optional: [],
      help: `Clears the specified parameter (param-name can be ${names(writable).join(',')}).`,
      run: (ctx) => paramClear(ctx, cls),
    },
  ];
}
