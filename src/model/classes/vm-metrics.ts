// VM_metrics: live metrics of a VM, kept by the host running it (xapi datamodel.ml `VM_metrics`).
import { defineClass, field } from '../define.js';
import { stringMap, t } from '../types.js';
import { domainType } from './vm.js';

export const VMMetrics = defineClass({
  name: 'VM_metrics',
  doc: 'The metrics associated with a VM',
  fields: {
    uuid: field(t.string, 'DynamicRO', 'Unique identifier/object reference'),
    memory_actual: field(t.int, 'DynamicRO', "Guest's actual memory (bytes)", { persist: false }),
    VCPUs_number: field(t.int, 'DynamicRO', 'Current number of VCPUs'),
    VCPUs_CPU: field(t.map(t.int, t.int), 'DynamicRO', 'VCPU to PCPU map', { persist: false }),
    VCPUs_params: field(stringMap, 'DynamicRO', 'The live equivalent to VM.VCPUs_params', { persist: false }),
    VCPUs_flags: field(t.map(t.int, t.set(t.string)), 'DynamicRO', 'CPU flags (blocked,online,running)', {
      persist: false,
    }),
    state: field(t.set(t.string), 'DynamicRO', 'The state of the guest, eg blocked, dying etc', {
      persist: false,
    }),
    start_time: field(t.datetime, 'DynamicRO', 'Time at which this VM was last booted'),
    install_time: field(t.datetime, 'DynamicRO', 'Time at which the VM was installed'),
    last_updated: field(t.datetime, 'DynamicRO', 'Time at which this information was last updated', {
      persist: false,
    }),
    other_config: field(stringMap, 'RW', 'additional configuration', { default: {}, persist: false }),
    hvm: field(t.bool, 'DynamicRO', 'hardware virtual machine', { default: false, persist: false }),
    nested_virt: field(t.bool, 'DynamicRO', 'VM supports nested virtualisation', {
      default: false,
      persist: false,
    }),
    nomigrate: field(t.bool, 'DynamicRO', "VM is immobile and can't migrate between hosts", {
      default: false,
      persist: false,
    }),
    current_domain_type: field(
      domainType,
      'DynamicRO',
      'The current domain type of the VM (for running,suspended, or paused VMs). The last-known domain type for halted VMs.',
      { default: 'unspecified' },
    ),
    numa_optimised: field(t.bool, 'StaticRO', 'If the VM is optimised for NUMA', { default: false }),
    numa_nodes: field(t.int, 'StaticRO', 'number of NUMA nodes of the host the VM is using', { default: 0 }),
    numa_node_memory: field(
      t.map(t.int, t.int),
      'DynamicRO',
      'mapping a NUMA node (int) to an amount of memory (bytes) in that node.',
      { default: {} },
    ),
  },
  messages: {},
});
