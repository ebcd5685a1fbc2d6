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

/** Fields whose xe name is not the API name with hyphens (records.ml); per class. */
const nameExceptions: Record<string, Record<string, string>> = {
  VM: {
    suspend_VDI: 'suspend-VDI-uuid',
    suspend_SR: 'suspend-SR-uuid',
    consoles: 'console-uuids',
    last_booted_record: 'last-boot-record',
    domid: 'dom-id',
    VTPMs: 'vtpms',
  },
  host: {
    suspend_image_sr: 'suspend-image-sr-uuid',
    crash_dump_sr: 'crash-dump-sr-uuid',
    cpu_info: 'cpu_info',
    guest_VCPUs_params: 'guest_VCPUs_params',
    control_domain: 'control-domain-uuid',
    resident_VMs: 'resident-vms',
    iscsi_iqn: 'iscsi_iqn',
  },
  pool: { cpu_info: 'cpu_info' },
  VDI: { SR: 'sr-uuid', VBDs: 'vbd-uuids', crash_dumps: 'crashdump-uuids' },
  VBD: {
    VM: 'vm-uuid',
    VDI: 'vdi-uuid',
    qos_algorithm_type: 'qos_algorithm_type',
    qos_algorithm_params: 'qos_algorithm_params',
    qos_supported_algorithms: 'qos_supported_algorithms',
  },
  PBD: { host: 'host-uuid', SR: 'sr-uuid' },
  network: { VIFs: 'VIF-uuids', PIFs: 'PIF-uuids' },
  PIF: {
    VLAN_master_of: 'vlan-master-of',
    VLAN_slave_of: 'vlan-slave-of',
    network: 'network-uuid',
    host: 'host-uuid',
    ip_configuration_mode: 'IP-configuration-mode',
    ipv6_configuration_mode: 'IPv6-configuration-mode',
    ipv6_gateway: 'IPv6-gateway',
  },
  VIF: {
    VM: 'vm-uuid',
    network: 'network-uuid',
    qos_algorithm_type: 'qos_algorithm_type',
    qos_algorithm_params: 'qos_algorithm_params',
    qos_supported_algorithms: 'qos_supported_algorithms',
  },
  task: {
    subtask_of: 'subtask_of',
    error_info: 'error_info',
    allowed_operations: 'allowed_operations',
    current_operations: 'current_operations',
  },
  message: { cls: 'class' },
  host_cpu: { host: 'host-uuid' },
  console: { VM: 'vm-uuid' },
};

/** xe names fields with hyphens: name_label → name-label, default_SR → default-SR (plus records.ml's exceptions). */
export function cliFieldName(field: string, cls?: string): string {
  return (cls === undefined ? undefined : nameExceptions[cls]?.[field]) ?? field.replace(/_/g, '-');
}

export function apiFieldName(def: ClassDef, cli: string): string | undefined {
  const renamed = Object.entries(nameExceptions[def.name] ?? {}).find(([, c]) => c === cli)?.[0];
  if (renamed !== undefined) return renamed;
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

/**
 * Fields xe prints only when asked for by name with `*-param-get` (records.ml `~hidden:true`):
 * left out of `*-list` (even with params=), `*-param-list` and the help's parameter lists.
 * host.server_certificate is a whole PEM certificate, too long for a listing.
 */
const hiddenFields: Record<string, ReadonlySet<string>> = {
  host: new Set(['server_certificate']),
};

/** Whether xe hides the field (API name) of class `cls` from listings. */
export function isHiddenField(cls: string, field: string): boolean {
  return hiddenFields[cls]?.has(field) === true;
}

/**
 * Fields in the order xe prints them: uuid, name-label, name-description, then the model's order;
 * hidden ones left out.
 */
export function cliFieldOrder(def: ClassDef): string[] {
  const first = ['uuid', 'name_label', 'name_description'].filter((f) => def.fields[f] !== undefined);
  return [...first, ...Object.keys(def.fields).filter((f) => !first.includes(f))].filter(
    (f) => !isHiddenField(def.name, f),
  );
}

/** A field xe computes rather than reads (records.ml); printed right after `after`. */
export interface ComputedField {
  readonly name: string;
  readonly after: string;
  /** The suffix; ( RO) unless given ((MRO) for maps read from a metrics record). */
  readonly tag?: string;
  get(rec: Record<string, unknown>, refs: RefResolver): Promise<string>;
}

/** A field of the record that `refField` points at, as xe inlines metrics (memory-actual …). */
function via(name: string, after: string, refField: string, cls: string, field: string): ComputedField {
  return {
    name,
    after,
    tag: undefined,
    get: async (rec, refs) => {
      const target = (await refs.records(cls)).get(String(rec[refField]));
      const fd = classDef(cls)?.fields[field];
      if (target === undefined || fd === undefined) return NOT_IN_DATABASE;
      return formatValue(fd.ty, target[field], refs, field);
    },
  };
}

function viaMap(name: string, after: string, refField: string, cls: string, field: string): ComputedField {
  return { ...via(name, after, refField, cls, field), tag: '(MRO)' };
}

/** `vm-name-label` and friends: the name of the object a reference field points at. */
function nameOf(name: string, after: string, refField: string, cls: string): ComputedField {
  return via(name, after, refField, cls, 'name_label');
}

export const computedFields: Record<string, readonly ComputedField[]> = {
  VM: [
    via('memory-actual', 'memory_static_min', 'metrics', 'VM_metrics', 'memory_actual'),
    via('VCPUs-number', 'VCPUs_at_startup', 'metrics', 'VM_metrics', 'VCPUs_number'),
    via('start-time', 'metrics', 'metrics', 'VM_metrics', 'start_time'),
    via('install-time', 'metrics', 'metrics', 'VM_metrics', 'install_time'),
    viaMap('os-version', 'guest_metrics', 'guest_metrics', 'VM_guest_metrics', 'os_version'),
    viaMap('PV-drivers-version', 'guest_metrics', 'guest_metrics', 'VM_guest_metrics', 'PV_drivers_version'),
    viaMap('networks', 'guest_metrics', 'guest_metrics', 'VM_guest_metrics', 'networks'),
    viaMap('other', 'guest_metrics', 'guest_metrics', 'VM_guest_metrics', 'other'),
  ],
  host: [
    via('memory-total', 'metrics', 'metrics', 'host_metrics', 'memory_total'),
    via('memory-free', 'metrics', 'metrics', 'host_metrics', 'memory_free'),
  ],
  VBD: [nameOf('vm-name-label', 'VM', 'VM', 'VM'), nameOf('vdi-name-label', 'VDI', 'VDI', 'VDI')],
  VDI: [nameOf('sr-name-label', 'SR', 'SR', 'SR')],
  VIF: [
    nameOf('vm-name-label', 'VM', 'VM', 'VM'),
    nameOf('network-name-label', 'network', 'network', 'network'),
  ],
  PIF: [
    nameOf('network-name-label', 'network', 'network', 'network'),
    nameOf('host-name-label', 'host', 'host', 'host'),
  ],
  PBD: [nameOf('sr-name-label', 'SR', 'SR', 'SR'), nameOf('host-name-label', 'host', 'host', 'host')],
  // sr-list's `host`: the name of the one host the SR is plugged into, or <shared>.
  SR: [
    {
      name: 'host',
      after: 'name_description',
      get: async (rec, refs) => {
        const pbds = (rec.PBDs as string[] | undefined) ?? [];
        if (pbds.length > 1) return '<shared>';
        const pbd = pbds[0] === undefined ? undefined : (await refs.records('PBD')).get(pbds[0]);
        const host = pbd === undefined ? undefined : (await refs.records('host')).get(String(pbd.host));
        return typeof host?.name_label === 'string' ? host.name_label : NOT_IN_DATABASE;
      },
    },
  ],
};

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

/**
 * Enums print as their API wire name, except these (records.ml / record_util.ml): power-state in
 * lower case, and a few with their own words.
 */
const enumWords: Record<string, (v: string) => string> = {
  vm_power_state: (v) => v.toLowerCase(),
  on_normal_exit: (v) => ({ destroy: 'Destroy', restart: 'Restart' })[v] ?? v,
  on_crash_behaviour: (v) =>
    ({
      destroy: 'Destroy',
      coredump_and_destroy: 'Core dump and destroy',
      restart: 'Restart',
      coredump_and_restart: 'Core dump and restart',
      preserve: 'Preserve',
      rename_restart: 'Rename restart',
    })[v] ?? v,
  on_softreboot_behavior: (v) =>
    ({ destroy: 'Destroy', restart: 'Restart', preserve: 'Preserve', soft_reboot: 'Soft reboot' })[v] ?? v,
  domain_type: (v) => v.replace(/_/g, '-'),
  vdi_type: (v) =>
    ({
      system: 'System',
      user: 'User',
      ephemeral: 'Ephemeral',
      suspend: 'Suspend',
      crashdump: 'Crashdump',
      ha_statefile: 'HA statefile',
      metadata: 'Metadata',
      redo_log: 'Redo log',
      rrd: 'rrd',
      pvs_cache: 'PVS cache',
      cbt_metadata: 'CBT metadata',
    })[v] ?? v,
  console_protocol: (v) => v.toUpperCase(),
  task_allowed_operations: (v) => ({ cancel: 'Cancel', destroy: 'Destroy' })[v] ?? v,
};

/** Set fields xe joins with ", " rather than "; " (tags everywhere, a few legacy fields). */
const commaSets = new Set(['tags', 'patches', 'updates', 'ntp_custom_servers', 'purpose']);

/** One value as xe prints it; `field` (the API field name) picks the few per-field renderings. */
export async function formatValue(ty: Ty, v: unknown, refs: RefResolver, field?: string): Promise<string> {
  switch (ty.kind) {
    case 'ref':
      return refs.uuid(ty.cls, String(v));
    case 'enum':
      return (enumWords[ty.name] ?? String)(String(v));
    case 'set': {
      const items = await Promise.all((v as unknown[]).map((x) => formatValue(ty.of, x, refs)));
      return items.join(field !== undefined && commaSets.has(field) ? ', ' : '; ');
    }
    case 'map': {
      const parts: string[] = [];
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        const key =
          ty.key.kind === 'ref'
            ? await refs.uuid(ty.key.cls, k)
            : ty.key.kind === 'enum'
              ? await formatValue(ty.key, k, refs)
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
  const computed = computedFields[def.name] ?? [];
  const order = cliFieldOrder(def).flatMap((f) => [
    f,
    ...computed.filter((c) => c.after === f).map((c) => c.name),
  ]);
  const names = order.filter((f) => only === undefined || only.includes(f));
  return Promise.all(
    names.map(async (f) => {
      const c = def.fields[f] === undefined ? computed.find((x) => x.name === f) : undefined;
      if (c !== undefined) return { key: `${c.name} ${c.tag ?? '( RO)'}`, value: await c.get(rec, refs) };
      const fd = def.fields[f] as FieldDef;
      return {
        key: `${cliFieldName(f, def.name)} ${qualifierTag(def, f)}`,
        value: await formatValue(fd.ty, rec[f], refs, f),
      };
    }),
  );
}

/** xe --minimal: values joined by commas, with commas and backslashes escaped. */
export function minimalJoin(values: readonly string[]): string {
  return values.map((v) => v.replace(/\\/g, '\\\\').replace(/,/g, '\\,')).join(',');
}
