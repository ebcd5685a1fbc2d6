// VM verbs: install/uninstall, the power operations with xe's VM selectors, clone/copy, disks
// and VIFs. Long operations run as tasks (see task-wait.ts) so Ctrl-C can cancel them.
import { NULL_REF } from '../../model/types.js';
import { CliError, required, type CliCtx, type Command } from '../context.js';
import { select } from '../generic.js';
import { layoutRecord, minimalJoin, recordFields } from '../records.js';
import { classDef } from '../../model/index.js';
import { confirm } from './confirm.js';
import { XapiCallError } from '../../rpc/client.js';
import { formatApiError } from '../errors.js';
import { runTask } from './task-wait.js';

type Rec = Record<string, unknown>;

/** Parameters of VM verbs that are never record filters. */
const notSelectors = new Set([
  'vm',
  'force',
  'multiple',
  'minimal',
  'on',
  'paused',
  'progress',
  'new-name-label',
  'new-name-description',
  'sr-uuid',
  'params',
]);

export interface SelectOptions {
  /** Parameters of this verb that are not filters. */
  ignore?: readonly string[];
  includeControl?: boolean;
  includeTemplates?: boolean;
  /** The verb works on one VM at a time. */
  single?: boolean;
}

/**
 * xe's VM selectors (cli_operations.ml select_vms): `vm=<name-label or uuid>` (exact), any field
 * filters, and with no selector at all every VM. Control domains and templates are left out
 * unless the verb includes them; several matches need --multiple.
 */
export async function selectVms(ctx: CliCtx, opts: SelectOptions = {}): Promise<[string, Rec][]> {
  const filters = new Map<string, string>();
  if (opts.includeControl !== true) filters.set('is-control-domain', 'false');
  if (opts.includeTemplates !== true) filters.set('is-a-template', 'false');
  for (const [k, v] of ctx.params)
    if (!notSelectors.has(k) && !(opts.ignore ?? []).includes(k)) filters.set(k, v);
  const vm = ctx.params.get('vm');
  let found = await select(ctx, 'VM', filters);
  if (vm !== undefined) found = found.filter(([, r]) => r.uuid === vm || r.name_label === vm);
  if (found.length === 0) throw new CliError('No matching VMs found');
  if (found.length > 1 && opts.single === true) {
    throw new CliError('Multiple matches VMs found. Operation can only be performed on one VM at a time');
  }
  if (found.length > 1 && ctx.params.get('multiple') !== 'true') {
    throw new CliError('Multiple matches VMs found. --multiple required to complete the operation');
  }
  return found;
}

/**
 * Runs `op` on every selected VM; with several, failures are collected and reported on stdout as
 * `operation failed on <uuid>: <msg>` after the others ran, as xe does.
 */
async function eachVm(
  ctx: CliCtx,
  op: (ref: string, rec: Rec) => Promise<void>,
  opts: SelectOptions = {},
): Promise<void> {
  const vms = await selectVms(ctx, opts);
  if (vms.length === 1) {
    const [ref, rec] = vms[0] as [string, Rec];
    await op(ref, rec);
    return;
  }
  const failures: string[] = [];
  for (const [ref, rec] of vms) {
    try {
      await op(ref, rec);
    } catch (e) {
      const msg =
        e instanceof XapiCallError
          ? (await formatApiError(ctx.call, e)).trimEnd()
          : e instanceof Error
            ? e.message
            : String(e);
      failures.push(`operation failed on ${String(rec.uuid)}: ${msg}`);
    }
  }
  if (failures.length > 0) {
    ctx.io.out(failures.join('\n') + '\n');
    throw new CliError('', false, true);
  }
}

function flag(ctx: CliCtx, name: string): boolean {
  return ctx.params.get(name) === 'true';
}

async function hostRef(ctx: CliCtx, nameOrUuid: string): Promise<string> {
  const hosts = await ctx.refs.records('host');
  for (const [ref, h] of hosts)
    if (h.uuid === nameOrUuid || h.name_label === nameOrUuid || h.hostname === nameOrUuid) return ref;
  throw new CliError(`No matching host found for '${nameOrUuid}'`);
}

async function findTemplate(ctx: CliCtx): Promise<string> {
  const byUuid = ctx.params.get('template-uuid');
  if (byUuid !== undefined) {
    return (await ctx.call('VM.get_by_uuid', byUuid).catch(() => {
      throw new CliError('Cannot find template');
    })) as string;
  }
  const name =
    ctx.params.get('template-name-label') ?? ctx.params.get('template-name') ?? ctx.params.get('template');
  if (name === undefined) {
    throw new CliError(
      "Template must be specified by parameter 'template-uuid', 'template-name', 'template-name-label' or 'template'",
    );
  }
  if (ctx.params.has('template')) {
    const ref = (await ctx.call('VM.get_by_uuid', name).catch(() => undefined)) as string | undefined;
    if (ref !== undefined) return ref;
  }
  const tpls = (
    await select(
      ctx,
      'VM',
      new Map([
        ['is-a-template', 'true'],
        ['is-control-domain', 'false'],
      ]),
    )
  ).filter(([, r]) => r.name_label === name);
  if (tpls.length === 0) throw new CliError('No templates matched');
  if (tpls.length > 1) throw new CliError('More than one matching template found');
  return (tpls[0] as [string, Rec])[0];
}

async function chosenSr(ctx: CliCtx): Promise<string | undefined> {
  const uuid = ctx.params.get('sr-uuid');
  const name = ctx.params.get('sr-name-label');
  if (uuid !== undefined) {
    const sr = (await ctx.call('SR.get_by_uuid', uuid)) as string;
    if (name !== undefined && (await ctx.call('SR.get_name_label', sr)) !== name) {
      throw new CliError("SR specified via sr-uuid doesn't have the name specified via sr-name-label");
    }
    return sr;
  }
  if (name === undefined) return undefined;
  const srs = (await ctx.call('SR.get_by_name_label', name)) as string[];
  if (srs.length === 0) throw new CliError('No SR with that name-label found');
  if (srs.length > 1) throw new CliError('Multiple SRs with that name-label found');
  return srs[0];
}

/** vm-install: clone (or copy to the chosen SR) a template and provision its disks. */
async function install(ctx: CliCtx): Promise<void> {
  const tpl = await findTemplate(ctx);
  if ((await ctx.call('VM.get_is_a_template', tpl)) !== true)
    throw new CliError('Can only install from templates');
  const name = required(ctx, 'new-name-label');
  const sr = await chosenSr(ctx);
  const vm = (await (sr !== undefined
    ? runTask(ctx, 'VM.copy', tpl, name, sr)
    : runTask(ctx, 'VM.clone', tpl, name))) as string;
  try {
    await ctx.call('VM.set_name_description', vm, 'Installed via xe CLI');
    const srUuid =
      sr !== undefined ? ((await ctx.call('SR.get_uuid', sr)) as string) : await defaultSrUuid(ctx);
    const other = (await ctx.call('VM.get_other_config', vm)) as Record<string, string>;
    if (other.disks !== undefined) {
      if (srUuid === undefined)
        throw new CliError(
          'Failed to find a valid default SR for the Pool. Please provide an sr-name-label or sr-uuid parameter.',
        );
      await ctx.call('VM.remove_from_other_config', vm, 'disks');
      await ctx.call(
        'VM.add_to_other_config',
        vm,
        'disks',
        other.disks.replace(/sr="[^"]*"/g, `sr="${srUuid}"`),
      );
    }
    await runTask(ctx, 'VM.provision', vm);
  } catch (e) {
    await ctx.call('VM.destroy', vm).catch(() => undefined);
    throw e;
  }
  ctx.io.out(`${String(await ctx.call('VM.get_uuid', vm))}\n`);
}

async function defaultSrUuid(ctx: CliCtx): Promise<string | undefined> {
  const pools = await ctx.refs.records('pool');
  const sr = [...pools.values()][0]?.default_SR;
  if (typeof sr !== 'string' || sr === NULL_REF) return undefined;
  return (await ctx.call('SR.get_uuid', sr).catch(() => undefined)) as string | undefined;
}

async function start(ctx: CliCtx): Promise<void> {
  const on = ctx.params.get('on');
  const host = on === undefined ? undefined : await hostRef(ctx, on);
  const paused = flag(ctx, 'paused');
  const force = flag(ctx, 'force');
  await eachVm(
    ctx,
    async (ref) => {
      if (host === undefined) await runTask(ctx, 'VM.start', ref, paused, force);
      else await runTask(ctx, 'VM.start_on', ref, host, paused, force);
    },
    { includeControl: true },
  );
}

/** A VM verb that is one API call per VM; `forced` is used instead with --force. */
const perVm =
  (method: string, opts: { async: boolean; forced?: string }) =>
  async (ctx: CliCtx): Promise<void> => {
    const m = opts.forced !== undefined && flag(ctx, 'force') ? opts.forced : method;
    await eachVm(ctx, async (ref) => {
      if (opts.async) await runTask(ctx, m, ref);
      else await ctx.call(m, ref);
    });
  };

async function resume(ctx: CliCtx): Promise<void> {
  const on = ctx.params.get('on');
  const host = on === undefined ? undefined : await hostRef(ctx, on);
  await eachVm(ctx, async (ref) => {
    if (host === undefined) await runTask(ctx, 'VM.resume', ref, false, flag(ctx, 'force'));
    else await runTask(ctx, 'VM.resume_on', ref, host, false, flag(ctx, 'force'));
  });
}

/**
 * xe vm-migrate host=|host-uuid= [live=true] [force=true]: within the pool, VM.pool_migrate of
 * each selected VM (cross-pool and storage options are not supported).
 */
async function migrate(ctx: CliCtx): Promise<void> {
  const target = ctx.params.get('host-uuid') ?? ctx.params.get('host');
  if (target === undefined) throw new CliError('You must specify a host (host= or host-uuid=).');
  const host = await hostRef(ctx, target);
  const options: Record<string, string> = {
    live: String(flag(ctx, 'live')),
    force: String(flag(ctx, 'force')),
  };
  await eachVm(
    ctx,
    async (ref) => {
      await runTask(ctx, 'VM.pool_migrate', ref, host, options);
    },
    { ignore: ['host', 'host-uuid', 'live'] },
  );
}

async function cloneVms(ctx: CliCtx): Promise<void> {
  const name = required(ctx, 'new-name-label');
  let first = true;
  await eachVm(
    ctx,
    async (ref) => {
      const vm = (await ctx.call('VM.clone', ref, name)) as string;
      const descr = ctx.params.get('new-name-description');
      if (descr !== undefined && first) await ctx.call('VM.set_name_description', vm, descr);
      first = false;
      ctx.io.out(`${String(await ctx.call('VM.get_uuid', vm))}\n`);
    },
    { includeTemplates: true, ignore: ['ignore-vdi-uuids'] },
  );
}

async function copyVm(ctx: CliCtx): Promise<void> {
  const name = required(ctx, 'new-name-label');
  const [[ref]] = (await selectVms(ctx, { includeTemplates: true, single: true })) as [[string, Rec]];
  const srUuid = ctx.params.get('sr-uuid');
  const sr = srUuid === undefined ? NULL_REF : ((await ctx.call('SR.get_by_uuid', srUuid)) as string);
  const vm = (await runTask(ctx, 'VM.copy', ref, name, sr)) as string;
  const descr = ctx.params.get('new-name-description');
  if (descr !== undefined) await ctx.call('VM.set_name_description', vm, descr);
  ctx.io.out(`${String(await ctx.call('VM.get_uuid', vm))}\n`);
}

interface Doomed {
  vm: [string, Rec];
  vdis: [string, Rec][];
  suspend: string;
}

/** What vm-uninstall destroys for one VM: disks whose VBD says "owner", and the suspend image. */
async function doomed(ctx: CliCtx, ref: string, rec: Rec): Promise<Doomed> {
  const vdis: [string, Rec][] = [];
  for (const vbdRef of rec.VBDs as string[]) {
    const vbd = (await ctx.call('VBD.get_record', vbdRef)) as Rec;
    if (!('owner' in (vbd.other_config as Record<string, string>)) || vbd.VDI === NULL_REF) continue;
    const vdi = (await ctx.call('VDI.get_record', vbd.VDI).catch(() => undefined)) as Rec | undefined;
    if (vdi !== undefined) vdis.push([vbd.VDI as string, vdi]);
  }
  return { vm: [ref, rec], vdis, suspend: rec.suspend_VDI as string };
}

async function uninstall(ctx: CliCtx): Promise<void> {
  const all: Doomed[] = [];
  for (const [ref, rec] of await selectVms(ctx)) {
    all.push(await doomed(ctx, ref, rec));
    for (const snap of rec.snapshots as string[])
      all.push(await doomed(ctx, snap, (await ctx.call('VM.get_record', snap)) as Rec));
  }
  const lines = ['The following items are about to be destroyed'];
  for (const d of all) {
    lines.push(`VM : ${String(d.vm[1].uuid)} (${String(d.vm[1].name_label)})`);
    for (const [, v] of d.vdis) {
      const shared = (v.VBDs as string[]).length >= 2 ? ' ** WARNING: disk is shared by other VMs' : '';
      lines.push(`VDI: ${String(v.uuid)} (${String(v.name_label)}) ${shared}`);
    }
  }
  ctx.io.out(lines.join('\n') + '\n');
  if (!(await confirm(ctx))) return;
  for (const d of all) {
    const [ref, rec] = d.vm;
    if ((await ctx.call('VM.get_power_state', ref)) !== 'Halted') await runTask(ctx, 'VM.hard_shutdown', ref);
    await runTask(ctx, 'VM.destroy', ref);
    for (const [vdi] of d.vdis) await runTask(ctx, 'VDI.destroy', vdi);
    if (d.suspend !== NULL_REF) await ctx.call('VDI.destroy', d.suspend).catch(() => undefined);
    void rec;
  }
  ctx.io.out('All objects destroyed\n');
}

async function destroy(ctx: CliCtx): Promise<void> {
  const ref = (await ctx.call('VM.get_by_uuid', required(ctx, 'uuid'))) as string;
  if ((await ctx.call('VM.get_is_control_domain', ref)) === true) {
    throw new XapiCallError('OPERATION_NOT_ALLOWED', ['You cannot destroy a control domain via the CLI']);
  }
  await ctx.call('VM.destroy', ref);
}

async function resetPowerstate(ctx: CliCtx): Promise<void> {
  if (!flag(ctx, 'force')) {
    throw new CliError(
      'This operation is dangerous and may cause data loss. This operation must be forced (use --force).',
    );
  }
  await eachVm(ctx, async (ref) => {
    await ctx.call('VM.power_state_reset', ref);
  });
}

async function diskAdd(ctx: CliCtx): Promise<void> {
  const bytes = parseSize(required(ctx, 'disk-size'));
  const device = required(ctx, 'device');
  const srUuid = ctx.params.get('sr-uuid') ?? (await defaultSrUuid(ctx));
  if (srUuid === undefined)
    throw new CliError('No default Pool SR set; you must specify an SR on the commandline');
  const sr = (await ctx.call('SR.get_by_uuid', srUuid)) as string;
  await eachVm(
    ctx,
    async (ref, rec) => {
      const vdi = (await ctx.call('VDI.create', {
        name_label: 'Created by xe',
        name_description: 'Created by xe',
        SR: sr,
        virtual_size: bytes,
        type: 'user',
        sharable: false,
        read_only: false,
        other_config: {},
        xenstore_data: {},
        sm_config: { vmhint: String(rec.uuid) },
        tags: [],
      })) as string;
      const vbd = (await ctx
        .call('VBD.create', {
          VM: ref,
          VDI: vdi,
          userdevice: device,
          bootable: false,
          mode: 'RW',
          type: 'Disk',
          unpluggable: true,
          empty: false,
          qos_algorithm_type: '',
          qos_algorithm_params: {},
          other_config: { owner: '' },
          device: '',
          currently_attached: false,
        })
        .catch(async (e: unknown) => {
          await ctx.call('VDI.destroy', vdi).catch(() => undefined);
          throw e;
        })) as string;
      // Hot-plug only matters for a running VM; xe ignores a refusal here.
      await ctx.call('VBD.plug', vbd).catch(() => undefined);
    },
    { ignore: ['disk-size', 'device'] },
  );
}

/** bytes_of_string: a number with an optional KiB/MiB/GiB/TiB (or K/M/G/T) suffix. */
export function parseSize(text: string): number {
  const m = /^(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?$/i.exec(text.trim());
  if (m === null) throw new CliError(`Failed to parse parameter: '${text}' is not a size`);
  const unit = (m[2] ?? 'b').toLowerCase()[0] ?? 'b';
  const mult = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit] ?? 1;
  return Number(m[1]) * mult;
}

async function printTable(ctx: CliCtx, cls: string, rec: Rec, defaults: string[]): Promise<string> {
  const d = classDef(cls);
  if (d === undefined) return '';
  const p = ctx.params.get('params');
  const only =
    p === 'all' ? undefined : p !== undefined ? p.split(',').map((x) => x.replace(/-/g, '_')) : defaults;
  return layoutRecord(await recordFields(d, rec, ctx.refs, only)) + '\n\n';
}

async function diskList(ctx: CliCtx): Promise<void> {
  await eachVm(ctx, async (_ref, rec) => {
    let n = 0;
    for (const vbdRef of rec.VBDs as string[]) {
      const vbd = (await ctx.call('VBD.get_record', vbdRef)) as Rec;
      if (vbd.type !== 'Disk') continue;
      ctx.io.out(`Disk ${n} VBD:\n` + (await printTable(ctx, 'VBD', vbd, ['uuid', 'VM', 'userdevice'])));
      if (vbd.VDI !== NULL_REF) {
        const vdi = (await ctx.call('VDI.get_record', vbd.VDI)) as Rec;
        ctx.io.out(
          `Disk ${n} VDI:\n` +
            (await printTable(ctx, 'VDI', vdi, ['uuid', 'name_label', 'SR', 'virtual_size'])),
        );
      }
      n++;
    }
  });
}

async function vifList(ctx: CliCtx): Promise<void> {
  const vms = await selectVms(ctx, {});
  for (const [, rec] of vms) {
    for (const vifRef of rec.VIFs as string[]) {
      const vif = (await ctx.call('VIF.get_record', vifRef)) as Rec;
      const text = await printTable(ctx, 'VIF', vif, ['uuid', 'VM', 'device', 'MAC', 'network']);
      ctx.io.out(ctx.minimal ? minimalJoin([String(vif.uuid)]) + '\n' : text);
    }
  }
}

// `vm=` is one of the selectors; xe's help lists only the placeholder.
const vmSel = ['<vm-selectors>'];

export function vmCommands(): Command[] {
  const std = { standard: true };
  return [
    {
      name: 'vm-install',
      reqd: ['new-name-label'],
      optional: ['template', 'template-uuid', 'template-name-label', 'sr-name-label', 'sr-uuid'],
      help: 'Install a new VM from a template. The template parameter can match either the template name or the uuid.',
      standard: true,
      run: install,
    },
    {
      name: 'vm-start',
      reqd: [],
      optional: ['force', 'on', 'paused', ...vmSel],
      help: "Start the selected VM(s). Where pooling is enabled, the host on which to start can be specified with the 'on' parameter that takes a uuid. The optional parameter '--force' will bypass any hardware-compatibility warnings.",
      ...std,
      run: start,
    },
    {
      name: 'vm-shutdown',
      reqd: [],
      optional: ['force', ...vmSel],
      help: 'Shutdown the selected VM(s). The optional argument --force will forcibly shut down the VM.',
      ...std,
      run: perVm('VM.clean_shutdown', { async: true, forced: 'VM.hard_shutdown' }),
    },
    {
      name: 'vm-reboot',
      reqd: [],
      optional: ['force', ...vmSel],
      help: 'Reboot the selected VM(s).',
      ...std,
      run: perVm('VM.clean_reboot', { async: false, forced: 'VM.hard_reboot' }),
    },
    {
      name: 'vm-suspend',
      reqd: [],
      optional: vmSel,
      help: 'Suspend the selected VM(s).',
      ...std,
      run: perVm('VM.suspend', { async: true }),
    },
    {
      name: 'vm-resume',
      reqd: [],
      optional: ['force', 'on', ...vmSel],
      help: 'Resume the selected VM(s).',
      ...std,
      run: resume,
    },
    {
      name: 'vm-migrate',
      reqd: [],
      optional: ['host', 'host-uuid', 'live', 'force', ...vmSel],
      help: 'Migrate the selected VM(s) to another host of the pool. The parameter host= (name or uuid) or host-uuid= names the target host.',
      ...std,
      run: migrate,
    },
    {
      name: 'vm-pause',
      reqd: [],
      optional: vmSel,
      help: "Pause a running VM. Note this operation does not free the associated memory (see 'vm-suspend').",
      ...std,
      run: perVm('VM.pause', { async: false }),
    },
    {
      name: 'vm-unpause',
      reqd: [],
      optional: vmSel,
      help: 'Unpause a paused VM.',
      ...std,
      run: perVm('VM.unpause', { async: false }),
    },
    {
      name: 'vm-clone',
      reqd: ['new-name-label'],
      optional: ['new-name-description', ...vmSel],
      help: 'Clone an existing VM, using storage-level fast disk clone operation where available.',
      ...std,
      run: cloneVms,
    },
    {
      name: 'vm-copy',
      reqd: ['new-name-label'],
      optional: ['new-name-description', 'sr-uuid', ...vmSel],
      help: "Copy an existing VM, but without using storage-level fast disk clone operation (even if this is available). The disk images of the copied VM are guaranteed to be 'full images' - i.e. not part of a CoW chain.",
      ...std,
      run: copyVm,
    },
    {
      name: 'vm-uninstall',
      reqd: [],
      optional: ['force', ...vmSel],
      help: 'Uninstall a VM. This operation will destroy those VDIs that are marked RW and connected to this VM only. To simply destroy the VM record, use vm-destroy.',
      ...std,
      run: uninstall,
    },
    {
      name: 'vm-destroy',
      reqd: ['uuid'],
      optional: [],
      help: 'Destroy a VM. This leaves the storage associated with the VM intact. To delete storage too, use vm-uninstall.',
      run: destroy,
    },
    {
      name: 'vm-reset-powerstate',
      reqd: [],
      optional: ['force', ...vmSel],
      help: "Force the VM powerstate to halted in the management toolstack database only. This command is used to recover a VM that is marked as 'running', but is known to be on a dead slave host that will not recover. This is a potentially dangerous operation: you must ensure that the VM you are forcing to 'halted' is definitely not running anywhere.",
      ...std,
      run: resetPowerstate,
    },
    {
      name: 'vm-disk-add',
      reqd: ['disk-size', 'device'],
      optional: ['sr-uuid', ...vmSel],
      help: "Add a new disk to the selected VM(s). The device field should be selected from the field 'allowed-VBD-devices' of the VM.",
      ...std,
      run: diskAdd,
    },
    {
      name: 'vm-disk-list',
      reqd: [],
      optional: ['vbd-params', 'vdi-params', ...vmSel],
      help: 'List the disks on the selected VM(s).',
      ...std,
      run: diskList,
    },
    {
      name: 'vm-vif-list',
      reqd: [],
      optional: vmSel,
      help: 'List the VIFs present on selected VM.',
      ...std,
      run: vifList,
    },
  ];
}
