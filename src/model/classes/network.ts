// network: a virtual network (bridge) joining VIFs and PIFs (xapi datamodel.ml `Network`).
import { defineClass, field, message, param } from '../define.js';
import { stringMap, t } from '../types.js';

export const networkOperations = t.enumOf('network_operations', ['attaching']);
export const networkDefaultLockingMode = t.enumOf('network_default_locking_mode', ['unlocked', 'disabled']);
export const networkPurpose = t.enumOf('network_purpose', ['nbd', 'insecure_nbd']);

export const Network = defineClass({
  name: 'network',
  doc: 'A virtual network',
  fields: {
    uuid: field(t.string, 'DynamicRO', 'Unique identifier/object reference'),
    name_label: field(t.string, 'RW', 'a human-readable name', { default: '' }),
    name_description: field(t.string, 'RW', 'a notes field containing human-readable description', {
      default: '',
    }),
    allowed_operations: field(
      t.set(networkOperations),
      'DynamicRO',
      'list of the operations allowed in this state. This list is advisory only and the server state may have changed by the time this field is read by a client.',
      { default: [], persist: false },
    ),
    current_operations: field(
      t.map(t.string, networkOperations),
      'DynamicRO',
      'links each of the running tasks using this object (by reference) to a current_operation enum which describes the nature of the task.',
      { default: {}, persist: false },
    ),
    VIFs: field(t.set(t.ref('VIF')), 'DynamicRO', 'list of connected vifs'),
    PIFs: field(t.set(t.ref('PIF')), 'DynamicRO', 'list of connected pifs'),
    MTU: field(t.int, 'RW', 'MTU in octets', { default: 1500 }),
    other_config: field(stringMap, 'RW', 'additional configuration'),
    bridge: field(
      t.string,
      'StaticRO',
      'name of the bridge corresponding to this network on the local host',
      { default: '' },
    ),
    managed: field(t.bool, 'StaticRO', 'true if the bridge is managed by xapi', { default: true }),
    blobs: field(t.map(t.string, t.ref('blob')), 'DynamicRO', 'Binary blobs associated with this network', {
      default: {},
    }),
    tags: field(t.set(t.string), 'RW', 'user-specified tags for categorization purposes', { default: [] }),
    default_locking_mode: field(
      networkDefaultLockingMode,
      'DynamicRO',
      'The network will use this value to determine the behaviour of all VIFs where locking_mode = default',
      { default: 'unlocked' },
    ),
    assigned_ips: field(
      t.map(t.ref('VIF'), t.string),
      'DynamicRO',
      'The IP addresses assigned to VIFs on networks that have active xapi-managed DHCP',
      { default: {} },
    ),
    purpose: field(
      t.set(networkPurpose),
      'DynamicRO',
      'Set of purposes for which the server will use this network',
      { default: [] },
    ),
  },
  messages: {
    create: message({
      params: [param('args', t.record('network'), 'All constructor arguments')],
      result: t.ref('network'),
      doc: 'Create a new network instance, and return its handle.',
      roles: 'vm-admin',
      async: true,
    }),
    destroy: message({
      params: [param('self', t.ref('network'), 'reference to the object')],
      result: t.void,
      doc: 'Destroy the specified network instance.',
      roles: 'vm-admin',
      async: true,
    }),
  },
});
