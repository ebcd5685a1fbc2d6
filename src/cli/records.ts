// xe's record output (cli_printer.ml, records.ml): `key ( RO): value` lines aligned on the colon,
// the first key left-aligned and the rest right-aligned to 4 + the longest key; maps as
// `k: v; k2: v2`, sets as `a; b`, references as the target's uuid (`<not in database>` when
// null or gone), enums in lower case; two blank lines after each record.
import type { ClassDef, FieldDef } from '../model/define.js';
import { classDef } from '../model/index.js';
import type { Ty } from '../model/types.js';
import { NULL_REF } from '../model/types.js';

export const NOT_IN_DATABASE = '<not in database>';

/** xe names classes in lower case with hyphens: VM → vm, host_cpu → host-cpu. */
export function cliClassName(cls: string): string {
  return cls.toLowerCase().replace(/_/g, '-');
}

/** xe names fields with hyphens: name_label → name-label, default_SR → default-SR. */
export function cliFieldName(field: string): string {
  return field.replace(/_/g, '-');
}

export function apiFieldName(def: ClassDef, cli: string): string | undefined {
  const f = cli.replace(/-/g, '_');
  if (def.fields[f] !== undefined) return f;
  // xe matches parameter names case-insensitively for a few legacy spellings (VCPUs-max, vcpus-max).
  return Object.keys(def.fields).find((k) => k.toLowerCase() === f.toLowerCase());
}

/** Whether xe can change the field: RW fields, and fields with an explicit set_<field> message. */
export function settable(def: ClassDef, field: string): boolean {
  return def.fields[field]?.qualifier === 'RW' || def.messages[`set_${field}`] !== undefined;
}

/** The suffix xe prints after a key: ( RO) ( RW) (MRO) (MRW) (SRO) (SRW). */
export function qualifierTag(def: ClassDef, field: string): string {
  const f = def.fields[field] as FieldDef;
  const rw = settable(def, field) ? 'RW' : 'RO';
  if (f.ty.kind === 'map') return `(M${rw})`;
  if (f.ty.kind === 'set') return `(S${rw})`;
  return `( ${rw})`;
}

/** Fields in the order xe prints them: uuid, name-label, name-description, then the model's order. */
export function cliFieldOrder(def: ClassDef): string[] {
  const first = ['uuid', 'name_label', 'name_description'].filter((f) => def.fields[f] !== undefined);
  return [...first, ...Object.keys(def.fields).filter((f) => !first.includes(f))];
}

/** Maps references to uuids, fetching each class's records at most once. */
export class RefResolver {
  private readonly byClass = new Map<string, Promise<Map<string, Record<string, unknown>>>>();

  constructor(private readonly fetchAll: (cls: string) => Promise<Record<string, Record<string, unknown>>>) {}

  records(cls: string): Promise<Map<string, Record<string, unknown>>> {
    let p = this.byClass.get(cls);
    if (p === undefined) {
      p = this.fetchAll(cls).then(
        (all) => new Map(Object.entries(all)),
        () => new Map(),
      );
      this.byClass.set(cls, p);
    }
    return p;
  }

  async uuid(cls: string, ref: string): Promise<string> {
    if (ref === NULL_REF || ref === '' || classDef(cls) === undefined) return NOT_IN_DATABASE;
    const rec = (await this.records(cls)).get(ref);
    return typeof rec?.uuid === 'string' ? rec.uuid : NOT_IN_DATABASE;
  }
}

/** One value as xe prints it. */
export async function formatValue(ty: Ty, v: unknown, refs: RefResolver): Promise<string> {
  switch (ty.kind) {
    case 'ref':
      return refs.uuid(ty.cls, String(v));
    case 'enum':
      return String(v).toLowerCase();
    case 'set': {
      const items = await Promise.all((v as unknown[]).map((x) => formatValue(ty.of, x, refs)));
      return items.join('; ');
    }
    case 'map': {
      const parts: string[] = [];
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        const key =
          ty.key.kind === 'ref'
            ? await refs.uuid(ty.key.cls, k)
            : ty.key.kind === 'enum'
              ? k.toLowerCase()
              : k;
        parts.push(`${key}: ${await formatValue(ty.value, x, refs)}`);
      }
      return parts.join('; ');
    }
    case 'bool':
      return v === true ? 'true' : 'false';
    case 'float':
      return Number(v).toFixed(3);
    default:
      return String(v);
  }
}

export interface PrintedField {
  key: string;
  value: string;
}

/** Lays out one record (the text ends in a newline; callers add the blank lines). */
export function layoutRecord(fields: readonly PrintedField[]): string {
  const width = 4 + Math.max(0, ...fields.map((f) => f.key.length));
  return fields
    .map((f, i) => `${i === 0 ? f.key.padEnd(width) : f.key.padStart(width)}: ${f.value}\n`)
    .join('');
}

/** The printed fields of one record, restricted to `only` (API field names) when given. */
export async function recordFields(
  def: ClassDef,
  rec: Record<string, unknown>,
  refs: RefResolver,
  only?: readonly string[],
): Promise<PrintedField[]> {
  const names = cliFieldOrder(def).filter((f) => only === undefined || only.includes(f));
  return Promise.all(
    names.map(async (f) => {
      const fd = def.fields[f] as FieldDef;
      return { key: `${cliFieldName(f)} ${qualifierTag(def, f)}`, value: await formatValue(fd.ty, rec[f], refs) };
    }),
  );
}

/** xe --minimal: values joined by commas, with commas and backslashes escaped. */
export function minimalJoin(values: readonly string[]): string {
  return values.map((v) => v.replace(/\\/g, '\\\\').replace(/,/g, '\\,')).join(',');
}
