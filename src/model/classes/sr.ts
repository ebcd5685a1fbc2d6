// SR: a storage repository (xapi datamodel.ml `SR`).
import { defineClass, field, message, param } from '../define.js';
import { NULL_REF, stringMap, t } from '../types.js';

export const storageOperations = t.enumOf('storage_operations', [
  'scan',
  'destroy',
  'forget',
  'plug',
  'unplug',
  'update',
  'vdi_create',
  'vdi_introduce',
  'vdi_destroy',
  'vdi_resize',
  'vdi_clone',
  'vdi_snapshot',
  'vdi_mirror',
  'vdi_enable_cbt',
  'vdi_disable_cbt',
  'vdi_data_destroy',
  'vdi_list_changed_blocks',
  'vdi_set_on_boot',
  'vdi_blocked',
  'vdi_copy',
  'vdi_force_unlock',
  'vdi_forget',
  'vdi_generate_config',
  'vdi_resize_online',
  'vdi_update',
  'vdi_revert',
  'pbd_create',
  'pbd_destroy',
]);

export const SR = defineClass({
  name: 'SR',
  doc: 'A storage repository',
  fields: {
    uuid: field(t.string, 'DynamicRO', 'Unique identifier/object reference'),
    name_label: field(t.string, 'StaticRO', 'a human-readable name', { default: '' }),
    name_description: field(t.string, 'StaticRO', 'a notes field containing human-readable description', {
      default: '',
    }),
    allowed_operations: field(
      t.set(storageOperations),
      'DynamicRO',
      'list of the operations allowed in this state. This list is advisory only and the server state may have changed by the time this field is read by a client.',
      { default: [], persist: false },
    ),
    current_operations: field(
      t.map(t.string, storageOperations),
      'DynamicRO',
      'links each of the running tasks using this object (by reference) to a current_operation enum which describes the nature of the task.',
      { default: {}, persist: false },
    ),
    VDIs: field(t.set(t.ref('VDI')), 'DynamicRO', 'all virtual disks known to this storage repository'),
    PBDs: field(
      t.set(t.ref('PBD')),
      'DynamicRO',
      'describes how particular hosts can see this storage repository',
    ),
    virtual_allocation: field(
      t.int,
      'DynamicRO',
      'sum of virtual_sizes of all VDIs in this storage repository (in bytes)',
    ),
    physical_utilisation: field(
      t.int,
      'DynamicRO',
      'physical space currently utilised on this storage repository (in bytes). Note that for sparse disk formats, physical_utilisation may be less than virtual_allocation',
    ),
    physical_size: field(t.int, 'StaticRO', 'total physical size of the repository (in bytes)'),
    type: field(t.string, 'StaticRO', 'type of the storage repository'),
    content_type: field(
      t.string,
      'StaticRO',
      "the type of the SR's content, if required (for example, ISOs)",
    ),
    shared: field(t.bool, 'DynamicRO', 'true if this SR is (capable of being) shared between multiple hosts'),
    other_config: field(stringMap, 'RW', 'additional configuration'),
    tags: field(t.set(t.string), 'RW', 'user-specified tags for categorization purposes', { default: [] }),
    sm_config: field(stringMap, 'RW', 'SM dependent data', { default: {} }),
    blobs: field(t.map(t.string, t.ref('blob')), 'DynamicRO', 'Binary blobs associated with this SR', {
      default: {},
    }),
    local_cache_enabled: field(
      t.bool,
      'DynamicRO',
      'True if this SR is assigned to be the local cache for its host',
      { default: false },
    ),
    introduced_by: field(
      t.ref('DR_task'),
      'DynamicRO',
      'The disaster recovery task which introduced this SR',
      { default: NULL_REF },
    ),
    clustered: field(t.bool, 'DynamicRO', 'True if the SR is using aggregated local storage', {
      default: false,
    }),
    is_tools_sr: field(t.bool, 'DynamicRO', 'True if this is the SR that contains the Tools ISO VDIs', {
      default: false,
    }),
  },
  messages: {
    get_supported_types: message({
      params: [],
      result: t.set(t.string),
      doc: 'Return a set of all the SR types supported by the system',
      roles: 'read-only',
    }),
    scan: message({
      params: [param('sr', t.ref('SR'), 'The SR to scan')],
      result: t.void,
      doc: 'Refreshes the list of VDIs associated with an SR',
      roles: 'vm-power-admin',
      async: true,
    }),
  },
});
