// What a fresh host looks like, and how a restarted one reconciles the DB with reality. First start
// makes a one-host pool: pool, host + metrics + CPUs, the control domain, a local SR set as
// default-SR, a network + PIF, and a few templates. Every start then re-discovers domains that kept
// running while the daemon was down and halts records whose domain vanished.
import { newRef, newUuid } from '../../base/ids.js';
import type { HostInfo } from '../../drivers/hypervisor/driver.js';
import type { Tx } from '../../db/db.js';
import type { Rec } from '../../model/index.js';
import { NULL_REF } from '../../model/types.js';
import type { Services } from '../context.js';
import { markNoDomain, markResident, refreshHostMemory } from '../vm/state.js';
import { formatDateTime } from '../../base/clock.js';
import { templates } from './templates.js';

export const PRODUCT_VERSION = '0.1.0';
export const API_VERSION = { major: 2, minor: 21 };

export interface HostIdentity {
  hostname: string;
  address: string;
  /** Directory of the local SR. */
  localSrDir: string;
}

export function softwareVersion(hostname: string): Record<string, string> {
  return {
    product_brand: 'Poolstack',
    product_version: PRODUCT_VERSION,
    product_version_text: PRODUCT_VERSION,
    product_version_text_short: PRODUCT_VERSION,
    platform_name: 'Poolstack',
    platform_version: '3.4.0',
    build_number: 'poolstack',
    xapi: `${API_VERSION.major}.${API_VERSION.minor}`,
    xapi_build: PRODUCT_VERSION,
    hostname,
    date: '2026-11-25',
    db_schema: '5.800',
  };
}

function cpuInfo(info: HostInfo): Record<string, string> {
  return {
    cpu_count: String(info.cpuCount),
    socket_count: '1',
    vendor: info.cpuVendor,
    speed: info.cpuSpeedMhz.toFixed(3),
    modelname: info.cpuModel,
    family: '6',
    model: '0',
    stepping: '0',
    flags: '',
    features: '',
  };
}

/** Identities and the clock reading shared by everything a first start creates. */
interface Fresh {
  readonly tx: Tx;
  readonly r: () => string;
  readonly u: () => string;
  readonly at: string;
  readonly id: HostIdentity;
  readonly info: HostInfo;
}

/** Creates the one-host pool in one transaction. Returns this host's ref. */
export function firstStart(svc: Services, id: HostIdentity, info: HostInfo, mac: string): string {
  const r = () => newRef(svc.random);
  const u = () => newUuid(svc.random);
  const at = formatDateTime(svc.clock.now());
  const [pool, host, metrics, dom0, dom0Metrics, sr, pbd, net, pif] = [
    r(),
    r(),
    r(),
    r(),
    r(),
    r(),
    r(),
    r(),
    r(),
  ] as const;
  svc.db.transact((tx) => {
    const f: Fresh = { tx, r, u, at, id, info };
    createHost(f, host, metrics, dom0);
    createPool(f, pool, host, sr);
    createControlDomain(f, dom0, dom0Metrics, host);
    createLocalStorage(f, sr, pbd, host);
    createNetwork(f, net, pif, host, mac);
    createTemplates(f);
  });
  return host;
}

function createHost({ tx, r, u, at, id, info }: Fresh, host: string, metrics: string, dom0: string): void {
  tx.create('host_metrics', metrics, {
    uuid: u(),
    memory_total: info.memoryTotalBytes,
    memory_free: info.memoryTotalBytes,
    live: true,
    last_updated: at,
  });
  tx.create('host', host, {
    uuid: u(),
    name_label: id.hostname,
    name_description: 'Default install',
    hostname: id.hostname,
    address: id.address,
    enabled: true,
    metrics,
    API_version_major: API_VERSION.major,
    API_version_minor: API_VERSION.minor,
    API_version_vendor: 'XenSource',
    software_version: softwareVersion(id.hostname),
    cpu_info: cpuInfo(info),
    capabilities: ['xen-3.0-x86_64', 'hvm-3.0-x86_64'],
    sched_policy: 'credit',
    edition: 'free',
    license_params: {},
    power_on_mode: '',
    control_domain: dom0,
    iscsi_iqn: '',
  });
  for (let i = 0; i < info.cpuCount; i++) {
    tx.create('host_cpu', r(), {
      uuid: u(),
      host,
      number: i,
      vendor: info.cpuVendor,
      speed: info.cpuSpeedMhz,
      modelname: info.cpuModel,
      utilisation: 0,
    });
  }
}

function createPool({ tx, u, info }: Fresh, pool: string, host: string, sr: string): void {
  tx.create('pool', pool, {
    uuid: u(),
    name_label: '',
    master: host,
    default_SR: sr,
    suspend_image_SR: sr,
    crash_dump_SR: sr,
    other_config: {},
    cpu_info: { cpu_count: String(info.cpuCount), socket_count: '1', vendor: info.cpuVendor },
    ha_cluster_stack: 'xhad',
  });
}

function createControlDomain(
  { tx, u, at, id, info }: Fresh,
  dom0: string,
  dom0Metrics: string,
  host: string,
): void {
  tx.create('VM_metrics', dom0Metrics, {
    uuid: u(),
    install_time: at,
    start_time: at,
    last_updated: at,
    memory_actual: info.dom0MemoryBytes,
    VCPUs_number: info.cpuCount,
    state: ['running'],
  });
  tx.create('VM', dom0, {
    uuid: u(),
    name_label: `Control domain on host: ${id.hostname}`,
    name_description: 'The domain which manages physical devices and manages other domains',
    is_control_domain: true,
    power_state: 'Running',
    resident_on: host,
    affinity: host,
    domid: 0,
    metrics: dom0Metrics,
    memory_static_min: info.dom0MemoryBytes,
    memory_static_max: info.dom0MemoryBytes,
    memory_dynamic_min: info.dom0MemoryBytes,
    memory_dynamic_max: info.dom0MemoryBytes,
    memory_target: info.dom0MemoryBytes,
    VCPUs_max: info.cpuCount,
    VCPUs_at_startup: info.cpuCount,
    domain_type: 'pv',
  });
}

function createLocalStorage({ tx, u, id }: Fresh, sr: string, pbd: string, host: string): void {
  tx.create('SR', sr, {
    uuid: u(),
    name_label: 'Local storage',
    name_description: `Local directory SR on ${id.hostname}`,
    type: 'ext',
    content_type: 'user',
    shared: false,
    other_config: { 'i18n-key': 'local-storage' },
    sm_config: { devserial: 'poolstack-local' },
    allowed_operations: ['scan', 'vdi_create', 'vdi_destroy', 'vdi_clone', 'vdi_resize'],
  });
  tx.create('PBD', pbd, {
    uuid: u(),
    host,
    SR: sr,
    device_config: { path: id.localSrDir },
    currently_attached: true,
  });
}

function createNetwork({ tx, u, id }: Fresh, net: string, pif: string, host: string, mac: string): void {
  tx.create('network', net, {
    uuid: u(),
    name_label: 'Pool-wide network associated with eth0',
    bridge: 'xenbr0',
    MTU: 1500,
    other_config: {},
  });
  tx.create('PIF', pif, {
    uuid: u(),
    device: 'eth0',
    host,
    network: net,
    MAC: mac,
    MTU: 1500,
    VLAN: -1,
    physical: true,
    currently_attached: true,
    management: true,
    IP: id.address,
    ip_configuration_mode: 'Static',
    netmask: '255.0.0.0',
  });
}

function createTemplates({ tx, r, u, at }: Fresh): void {
  for (const tpl of templates) {
    const m = r();
    tx.create('VM_metrics', m, { uuid: u(), install_time: at, last_updated: at });
    tx.create('VM', r(), {
      ...tpl,
      uuid: u(),
      metrics: m,
      is_a_template: true,
      is_default_template: true,
      power_state: 'Halted',
    });
  }
}

/** Brings the DB in line with the hypervisor after a (re)start. */
export async function reconcile(svc: Services, id: HostIdentity, info: HostInfo): Promise<void> {
  const host = svc.hostRef;
  const domains = new Map((await svc.hypervisor.vm.list()).map((d) => [d.uuid, d]));
  const h = svc.db.get('host', host) as Rec<'host'>;
  svc.db.transact((tx) => {
    tx.update('host', host, {
      address: id.address,
      hostname: id.hostname,
      software_version: softwareVersion(id.hostname),
    });
    tx.update('host_metrics', h.metrics, {
      live: true,
      memory_total: info.memoryTotalBytes,
      last_updated: formatDateTime(svc.clock.now()),
    });
    for (const row of svc.db.all('VM').values()) {
      const vm = row.rec as Rec<'VM'>;
      if (vm.is_control_domain) continue;
      // Operations that were in flight when the daemon stopped did not finish.
      if (Object.keys(vm.current_operations).length > 0 || vm.scheduled_to_be_resident_on !== NULL_REF) {
        tx.update('VM', row.ref, { current_operations: {}, scheduled_to_be_resident_on: NULL_REF });
      }
      const d = domains.get(vm.uuid);
      if (d !== undefined) {
        const state = d.state === 'paused' ? 'Paused' : 'Running';
        markResident(svc, tx, row.ref, state, host, d);
        domains.delete(vm.uuid);
      } else if ((vm.power_state === 'Running' || vm.power_state === 'Paused') && vm.resident_on === host) {
        svc.log.warn({ vm: vm.uuid }, 'domain vanished while the daemon was down; marking Halted');
        markNoDomain(svc, tx, row.ref, 'Halted');
      }
    }
    refreshHostMemory(svc, tx, host);
  });
  // Domains with no VM record cannot be managed: stop them rather than let them hold memory unseen.
  for (const orphan of domains.values()) {
    svc.log.warn({ uuid: orphan.uuid }, 'destroying a domain that has no VM record');
    await svc.hypervisor.vm.shutdown(orphan.uuid, { clean: false });
  }
}
