// Host, storage, device, network, task and event verbs. Each is a thin sequence of API calls;
// the ones that create something print the new object's uuid, as xe does.
import { NULL_REF } from '../../model/types.js';
import { CliError, required, type CliCtx, type Command } from '../context.js';
import { select } from '../generic.js';
import { recordFields } from '../records.js';
import { classDef } from '../../model/index.js';
import { parseSize } from './vm.js';
import { runTask } from './task-wait.js';

type Rec = Record<string, unknown>;

const hostNotFilters = new Set([
  'host',
  'multiple',
  'force',
  'minimal',
  'auto-enable',
  'network-uuid',
  'batch-size',
]);

/** xe's host selectors: `host=` matches uuid, hostname or name-label; other params filter. */
async function selectHosts(ctx: CliCtx, single: boolean): Promise<[string, Rec][]> {
  const filters = new Map<string, string>();
  for (const [k, v] of ctx.params) if (!hostNotFilters.has(k)) filters.set(k, v);
  const want = ctx.params.get('host');
  let found = await select(ctx, 'host', filters);
  if (want !== undefined)
    found = found.filter(([, h]) => h.uuid === want || h.hostname === want || h.name_label === want);
  if (found.length === 0) throw new CliError('No matching hosts found');
  if (found.length > 1 && single)
    throw new CliError(
      'Multiple matching hosts found. Operation can only be performed on one host at a time',
    );
  if (found.length > 1 && ctx.params.get('multiple') !== 'true')
    throw new CliError('Multiple matching hosts found. --multiple required to complete the operation');
  return found;
}

const perHost =
  (fn: (ctx: CliCtx, ref: string) => Promise<void>, single = false) =>
  async (ctx: CliCtx) => {
    for (const [ref] of await selectHosts(ctx, single)) await fn(ctx, ref);
  };

async function refOf(ctx: CliCtx, cls: string, param: string): Promise<string> {
  return (await ctx.call(`${cls}.get_by_uuid`, required(ctx, param))) as string;
}

/** `prefix:key=value` parameters as a map (device-config:path=/x → {path: '/x'}). */
function mapParam(ctx: CliCtx, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of ctx.params) {
    if (k.startsWith(`${prefix}:`)) out[k.slice(prefix.length + 1)] = v;
    else if (k.startsWith(`${prefix}-`) && k.length > prefix.length + 1) out[k.slice(prefix.length + 1)] = v;
  }
  return out;
}

function bool(ctx: CliCtx, name: string, dflt: boolean): boolean {
  const v = ctx.params.get(name);
  if (v === undefined) return dflt;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new CliError(`Failed to parse parameter '${name}': expecting a boolean (true or false)`);
}

async function printUuid(ctx: CliCtx, cls: string, ref: string): Promise<void> {
  ctx.io.out(`${String(await ctx.call(`${cls}.get_uuid`, ref))}\n`);
}

async function masterRef(ctx: CliCtx): Promise<string> {
  const master = [...(await ctx.refs.records('pool')).values()][0]?.master;
  return typeof master === 'string' ? master : NULL_REF;
}

async function srCreate(ctx: CliCtx): Promise<void> {
  const shared = bool(ctx, 'shared', false);
  const hostUuid = ctx.params.get('host-uuid');
  let host: string;
  if (hostUuid !== undefined) host = (await ctx.call('host.get_by_uuid', hostUuid)) as string;
  else if (shared || (await ctx.refs.records('host')).size === 1) host = await masterRef(ctx);
  else throw new CliError('Required parameter not found: host-uuid', true);
  const size = ctx.params.get('physical-size');
  const sr = (await runTask(
    ctx,
    'SR.create',
    host,
    mapParam(ctx, 'device-config'),
    size === undefined ? 0 : parseSize(size),
    required(ctx, 'name-label'),
    ctx.params.get('name-description') ?? '',
    ctx.params.get('type') ?? 'ext',
    ctx.params.get('content-type') ?? '',
    shared,
    mapParam(ctx, 'sm-config'),
  )) as string;
  await printUuid(ctx, 'SR', sr);
}

async function srIntroduce(ctx: CliCtx): Promise<void> {
  const uuid = required(ctx, 'uuid');
  await ctx.call(
    'SR.introduce',
    uuid,
    required(ctx, 'name-label'),
    ctx.params.get('name-description') ?? '',
    required(ctx, 'type'),
    ctx.params.get('content-type') ?? '',
    bool(ctx, 'shared', false),
    mapParam(ctx, 'sm-config'),
  );
  ctx.io.out(`${uuid}\n`);
}

async function pbdCreate(ctx: CliCtx): Promise<void> {
  const host = await refOf(ctx, 'host', 'host-uuid');
  const sr = await refOf(ctx, 'SR', 'sr-uuid');
  const pbd = (await ctx.call('PBD.create', {
    host,
    SR: sr,
    device_config: mapParam(ctx, 'device-config'),
    other_config: {},
  })) as string;
  await printUuid(ctx, 'PBD', pbd);
}

const vdiTypes: Record<string, string> = {
  system: 'system',
  user: 'user',
  suspend: 'suspend',
  crashdump: 'crashdump',
};

async function vdiCreate(ctx: CliCtx): Promise<void> {
  const sr = await refOf(ctx, 'SR', 'sr-uuid');
  const type = ctx.params.get('type') ?? 'user';
  if (vdiTypes[type] === undefined) throw new CliError(`Unknown vdi type: ${type}`);
  const tags = [...ctx.params.keys()].filter((k) => k.startsWith('tags:')).map((k) => k.slice(5));
  const vdi = (await runTask(ctx, 'VDI.create', {
    name_label: required(ctx, 'name-label'),
    name_description: '',
    SR: sr,
    virtual_size: parseSize(required(ctx, 'virtual-size')),
    type,
    sharable: bool(ctx, 'sharable', false),
    read_only: false,
    xenstore_data: {},
    other_config: {},
    sm_config: mapParam(ctx, 'sm-config'),
    tags,
  })) as string;
  await printUuid(ctx, 'VDI', vdi);
}

async function vdiClone(ctx: CliCtx): Promise<void> {
  const ref = await refOf(ctx, 'VDI', 'uuid');
  const clone = (await runTask(ctx, 'VDI.clone', ref, mapParam(ctx, 'driver-params'))) as string;
  const label = ctx.params.get('new-name-label');
  const description = ctx.params.get('new-name-description');
  if (label !== undefined) await ctx.call('VDI.set_name_label', clone, label);
  if (description !== undefined) await ctx.call('VDI.set_name_description', clone, description);
  await printUuid(ctx, 'VDI', clone);
}

async function vdiCopy(ctx: CliCtx): Promise<void> {
  const ref = await refOf(ctx, 'VDI', 'uuid');
  const optional = async (cls: string, param: string) =>
    ctx.params.has(param) ? refOf(ctx, cls, param) : NULL_REF;
  const sr = await optional('SR', 'sr-uuid');
  const base = await optional('VDI', 'base-vdi-uuid');
  const into = await optional('VDI', 'into-vdi-uuid');
  if (sr === NULL_REF && into === NULL_REF)
    throw new CliError('Either sr-uuid or into-vdi-uuid must be specified');
  await printUuid(ctx, 'VDI', (await runTask(ctx, 'VDI.copy', ref, sr, base, into)) as string);
}

async function vbdCreate(ctx: CliCtx): Promise<void> {
  const vm = await refOf(ctx, 'VM', 'vm-uuid');
  const vdiUuid = ctx.params.get('vdi-uuid');
  const vdi = vdiUuid === undefined ? NULL_REF : ((await ctx.call('VDI.get_by_uuid', vdiUuid)) as string);
  const mode = (ctx.params.get('mode') ?? 'rw').toLowerCase();
  if (mode !== 'ro' && mode !== 'rw') throw new CliError(`Unknown mode: ${mode} (should be "ro" or "rw"`);
  const type = (ctx.params.get('type') ?? 'disk').toLowerCase();
  const types: Record<string, string> = { cd: 'CD', disk: 'Disk', floppy: 'Floppy' };
  if (types[type] === undefined)
    throw new CliError(`Unknown type: ${type} (should be "cd", "disk" or "floppy"`);
  if (vdi === NULL_REF && type !== 'cd') throw new CliError('Empty VBDs can only be made for type=CD');
  const vbd = (await ctx.call('VBD.create', {
    VM: vm,
    VDI: vdi,
    userdevice: required(ctx, 'device'),
    bootable: bool(ctx, 'bootable', false),
    mode: mode.toUpperCase(),
    type: types[type],
    unpluggable: bool(ctx, 'unpluggable', true),
    empty: vdi === NULL_REF,
    qos_algorithm_type: '',
    qos_algorithm_params: {},
    other_config: {},
    device: '',
    currently_attached: false,
  })) as string;
  await printUuid(ctx, 'VBD', vbd);
}

async function networkCreate(ctx: CliCtx): Promise<void> {
  const mtu = ctx.params.get('MTU') ?? ctx.params.get('mtu') ?? '1500';
  const net = (await ctx.call('network.create', {
    name_label: required(ctx, 'name-label'),
    name_description: ctx.params.get('name-description') ?? '',
    MTU: Number(mtu),
    other_config: {},
    bridge: ctx.params.get('bridge') ?? '',
    managed: bool(ctx, 'managed', true),
    tags: [],
  })) as string;
  await printUuid(ctx, 'network', net);
}

function randomMac(): string {
  const b = Array.from({ length: 6 }, () => Math.floor(Math.random() * 256));
  b[0] = ((b[0] ?? 0) & 0xfc) | 0x02;
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

async function vifCreate(ctx: CliCtx): Promise<void> {
  const vm = await refOf(ctx, 'VM', 'vm-uuid');
  const net = await refOf(ctx, 'network', 'network-uuid');
  const mac = ctx.params.get('mac') ?? '';
  const vif = (await ctx.call('VIF.create', {
    device: required(ctx, 'device'),
    network: net,
    VM: vm,
    MAC: mac === 'random' ? randomMac() : mac,
    MTU: Number(await ctx.call('network.get_MTU', net)),
    other_config: {},
    qos_algorithm_type: '',
    qos_algorithm_params: {},
  })) as string;
  await printUuid(ctx, 'VIF', vif);
}

/** event-wait class=<c> [field=value | field=/=value …]: returns once a record matches. */
async function eventWait(ctx: CliCtx): Promise<void> {
  const cliCls = required(ctx, 'class');
  const supported: Record<string, string> = {
    vm: 'VM',
    vdi: 'VDI',
    sr: 'SR',
    host: 'host',
    network: 'network',
    vif: 'VIF',
    pif: 'PIF',
    vbd: 'VBD',
    pbd: 'PBD',
    pool: 'pool',
    task: 'task',
    secret: 'secret',
  };
  const cls = supported[cliCls];
  const def = cls === undefined ? undefined : classDef(cls);
  if (cls === undefined || def === undefined)
    throw new CliError(`Cli listening for class '${cliCls}' not currently implemented`);
  const conds = [...ctx.params].filter(([k]) => k !== 'class' && k !== 'minimal');
  const ok = async (rec: Rec) => {
    const printed = new Map(
      (await recordFields(def, rec, ctx.refs)).map((f) => [f.key.replace(/ \(.*\)$/, ''), f.value]),
    );
    return conds.every(([k, v]) => {
      const have = printed.get(k);
      if (have === undefined) throw new CliError(`key missing: ${k}`);
      return v.startsWith('/=') ? have !== v.slice(2) : have === v;
    });
  };
  for (const rec of Object.values((await ctx.call(`${cls}.get_all_records`)) as Record<string, Rec>))
    if (await ok(rec)) return;
  let token = ((await ctx.call('event.from', [cliCls], '', 0)) as { token: string }).token;
  while (!ctx.signal.aborted) {
    const r = (await ctx.call('event.from', [cliCls], token, 30.0)) as {
      token: string;
      events: { operation: string; snapshot?: Rec }[];
    };
    token = r.token;
    for (const e of r.events) if (e.snapshot !== undefined && (await ok(e.snapshot))) return;
  }
}

const sel = '<host-selectors>';

export function otherCommands(): Command[] {
  const call =
    (method: string, cls: string, param = 'uuid') =>
    async (ctx: CliCtx) => {
      await ctx.call(method, await refOf(ctx, cls, param));
    };
  const task =
    (method: string, cls: string, param = 'uuid') =>
    async (ctx: CliCtx) => {
      await runTask(ctx, method, await refOf(ctx, cls, param));
    };
  return [
    {
      name: 'host-enable',
      reqd: [],
      optional: [sel],
      help: 'Enable the XE host.',
      run: perHost(async (c, h) => {
        await c.call('host.remove_from_other_config', h, 'MAINTENANCE_MODE');
        await c.call('host.enable', h);
      }),
    },
    {
      name: 'host-disable',
      reqd: [],
      optional: ['auto-enable', sel],
      help: 'Disable the XE host. Setting auto-enable=false will keep the host persistently disabled until manually re-enabled with Host.enable.',
      run: perHost(async (c, h) => {
        await c.call('host.disable', h, bool(c, 'auto-enable', true));
      }),
    },
    {
      name: 'host-evacuate',
      reqd: [],
      optional: ['network-uuid', 'batch-size', sel],
      help: 'Migrate all VMs off a host.',
      run: perHost(async (c, h) => {
        await runTask(c, 'host.evacuate', h);
      }, true),
    },
    {
      name: 'host-shutdown',
      reqd: [],
      optional: [sel],
      help: 'Shutdown the XE host.',
      run: perHost(async (c, h) => {
        await c.call('host.shutdown', h);
      }),
    },
    {
      name: 'host-reboot',
      reqd: [],
      optional: [sel],
      help: 'Reboot the XE host.',
      run: perHost(async (c, h) => {
        await c.call('host.reboot', h);
      }),
    },
    {
      name: 'host-compute-free-memory',
      reqd: [],
      optional: [sel],
      help: 'Computes the amount of free memory on the host.',
      run: perHost(async (c, h) => {
        const v = await c.call('host.compute_free_memory', h);
        if (!c.minimal) c.io.out(`${String(v)}\n`);
      }, true),
    },
    {
      name: 'sr-create',
      reqd: ['name-label'],
      optional: [
        'host-uuid',
        'physical-size',
        'type',
        'content-type',
        'shared',
        'device-config:',
        'sm-config:',
      ],
      help: 'Create an SR, also a PBD. The device-config parameters can be specified by device-config:foo=baa, for example.',
      run: srCreate,
    },
    {
      name: 'sr-destroy',
      reqd: ['uuid'],
      optional: [],
      help: 'Destroy the SR.',
      run: task('SR.destroy', 'SR'),
    },
    {
      name: 'sr-forget',
      reqd: ['uuid'],
      optional: [],
      help: 'Forget about the SR.',
      run: task('SR.forget', 'SR'),
    },
    {
      name: 'sr-introduce',
      reqd: ['name-label', 'type', 'uuid'],
      optional: ['content-type', 'shared', 'sm-config:'],
      help: 'Introduces an SR (but does not create any PBDs).',
      run: srIntroduce,
    },
    {
      name: 'sr-scan',
      reqd: ['uuid'],
      optional: [],
      help: 'Force an SR scan, syncing database with VDIs present in underlying storage substrate.',
      run: task('SR.scan', 'SR'),
    },
    {
      name: 'pbd-create',
      reqd: ['host-uuid', 'sr-uuid'],
      optional: ['device-config:'],
      help: "Create a PBD. The read-only device-config parameter can only be set on creation in the following manner. To add a mapping of 'path' -> '/tmp', the command line should contain the argument device-config:path=/tmp",
      run: pbdCreate,
    },
    {
      name: 'pbd-plug',
      reqd: ['uuid'],
      optional: [],
      help: 'Attempt to plug in the PBD to the host. If this succeeds then the referenced SR (and the VDIs contained within) should be visible to the host.',
      run: task('PBD.plug', 'PBD'),
    },
    {
      name: 'pbd-unplug',
      reqd: ['uuid'],
      optional: [],
      help: 'Attempt to unplug the PBD from the host. If this succeeds then the referenced SR (and the VDIs contained within) should not be visible to the host.',
      run: task('PBD.unplug', 'PBD'),
    },
    {
      name: 'vdi-create',
      reqd: ['sr-uuid', 'name-label', 'virtual-size'],
      optional: ['type', 'sharable', 'sm-config:', 'tags:'],
      help: "Create a VDI. Type is 'system' 'user' 'suspend' or 'crashdump'.",
      run: vdiCreate,
    },
    {
      name: 'vdi-destroy',
      reqd: ['uuid'],
      optional: [],
      help: 'Destroy a VDI.',
      run: task('VDI.destroy', 'VDI'),
    },
    {
      name: 'vdi-resize',
      reqd: ['uuid', 'disk-size'],
      optional: ['online'],
      help: 'Resize a VDI.',
      run: async (c) => {
        await runTask(c, 'VDI.resize', await refOf(c, 'VDI', 'uuid'), parseSize(required(c, 'disk-size')));
      },
    },
    {
      name: 'vdi-clone',
      reqd: ['uuid'],
      optional: ['driver-params:', 'new-name-label', 'new-name-description'],
      help: 'Create a new, writable copy of the specified VDI that can be used directly. It is a variant of vdi-copy that is capable of using optimised facilities in the underlying storage to avoid copying data.',
      run: vdiClone,
    },
    {
      name: 'vdi-snapshot',
      reqd: ['uuid'],
      optional: ['driver-params:'],
      help: 'Take a read-only snapshot of the specified VDI, returning a reference to the snapshot.',
      run: async (c) => {
        const ref = await refOf(c, 'VDI', 'uuid');
        await printUuid(
          c,
          'VDI',
          (await runTask(c, 'VDI.snapshot', ref, mapParam(c, 'driver-params'))) as string,
        );
      },
    },
    {
      name: 'vdi-copy',
      reqd: ['uuid'],
      optional: ['sr-uuid', 'base-vdi-uuid', 'into-vdi-uuid'],
      help: 'Copy either a full VDI or the block differences between two VDIs either into a fresh VDI in a specified SR or into an existing VDI.',
      run: vdiCopy,
    },
    {
      name: 'vbd-create',
      reqd: ['vm-uuid', 'device'],
      optional: ['vdi-uuid', 'bootable', 'type', 'mode', 'unpluggable'],
      help: "Create a VBD. Appropriate values for the device field are listed in the parameter 'allowed-VBD-devices' on the VM. If no VDI is specified, an empty VBD will be created. The type parameter can be 'Disk', 'CD' or 'Floppy', and the mode is 'RO' or 'RW'.",
      run: vbdCreate,
    },
    {
      name: 'vbd-plug',
      reqd: ['uuid'],
      optional: [],
      help: 'Attempt to attach the VBD while the VM is in the running state.',
      run: task('VBD.plug', 'VBD'),
    },
    {
      name: 'vbd-unplug',
      reqd: ['uuid'],
      optional: ['timeout', 'force'],
      help: "Attempt to detach the VBD while the VM is in the running state. If the optional argument 'timeout=N' is given then the command will wait for up to 'N' seconds for the unplug to complete. If the optional argument 'force' is given then it will be immediately unplugged.",
      run: async (c) => {
        await runTask(
          c,
          c.params.get('force') === 'true' ? 'VBD.unplug_force' : 'VBD.unplug',
          await refOf(c, 'VBD', 'uuid'),
        );
      },
    },
    {
      name: 'vbd-destroy',
      reqd: ['uuid'],
      optional: [],
      help: 'Destroy a VBD.',
      run: task('VBD.destroy', 'VBD'),
    },
    {
      name: 'network-create',
      reqd: ['name-label'],
      optional: ['name-description', 'MTU', 'bridge', 'managed'],
      help: 'Create a new network.',
      run: networkCreate,
    },
    {
      name: 'vif-create',
      reqd: ['device', 'network-uuid', 'vm-uuid'],
      optional: ['mac'],
      help: "Create a VIF. Appropriate values for the device are listed in the parameter 'allowed-VIF-devices' on the VM. If specified, the MAC parameter is of the form aa:bb:cc:dd:ee:ff. If MAC is not specified the server will choose an appropriate MAC automatically.",
      run: vifCreate,
    },
    {
      name: 'task-cancel',
      reqd: ['uuid'],
      optional: [],
      help: 'Set a task to cancelling and return.',
      run: call('task.cancel', 'task'),
    },
    {
      name: 'event-wait',
      reqd: ['class'],
      optional: [],
      help: 'Wait for the event that satisfies the conditions given on the command line.',
      run: eventWait,
    },
  ];
}
