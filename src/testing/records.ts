// Minimal valid records for tests that need objects to work on.

const MiB = 1024 * 1024;

/** VM.create arguments for a small VM (256 MiB, one vCPU) named `name`. */
export function vmFields(name: string): Record<string, unknown> {
  return {
    name_label: name,
    memory_static_min: 256 * MiB,
    memory_dynamic_min: 256 * MiB,
    memory_dynamic_max: 256 * MiB,
    memory_static_max: 256 * MiB,
    VCPUs_max: 1,
    VCPUs_at_startup: 1,
  };
}

/** Anything that makes XenAPI calls with its session (XapiClient). */
export interface SessionCaller {
  callSession(method: string, ...params: unknown[]): Promise<unknown>;
}

/**
 * A small VM (vmFields) with one read-write 64 MiB disk on `sr` as its first drive (sharable: the
 * disk may be attached by several VMs, so it takes no lease). Returns the
 * VM's and the VDI's refs and the VM's uuid.
 */
export async function makeVmWithDisk(
  c: SessionCaller,
  name: string,
  sr: string,
  opts: { sharable?: boolean } = {},
): Promise<{ vm: string; vdi: string; uuid: string }> {
  const vm = (await c.callSession('VM.create', vmFields(name))) as string;
  const vdi = (await c.callSession('VDI.create', {
    name_label: `${name} disk`,
    SR: sr,
    virtual_size: 64 * MiB,
    type: 'user',
    sharable: opts.sharable ?? false,
    read_only: false,
    other_config: {},
  })) as string;
  await c.callSession('VBD.create', {
    VM: vm,
    VDI: vdi,
    userdevice: '0',
    bootable: true,
    mode: 'RW',
    type: 'Disk',
    empty: false,
    other_config: {},
    qos_algorithm_type: '',
    qos_algorithm_params: {},
  });
  return { vm, vdi, uuid: (await c.callSession('VM.get_uuid', vm)) as string };
}

/** A shared directory SR (type file) at `location`, created from `host`: a PBD on every host. */
export async function createSharedSr(c: SessionCaller, host: string, location: string): Promise<string> {
  return (await c.callSession(
    'SR.create',
    host,
    { location },
    0,
    'shared',
    '',
    'file',
    'user',
    true,
    {},
  )) as string;
}
