// VDI: a virtual disk image in an SR (xapi datamodel.ml `VDI`).
import { defineClass, field, message, param, setter } from '../define.js';
import { NULL_DATE, NULL_REF, stringMap, t } from '../types.js';

export const vdiOperations = t.enumOf('vdi_operations', [
  'clone',
  'copy',
  'resize',
  'resize_online',
  'snapshot',
  'mirror',
  'destroy',
  'forget',
  'update',
  'force_unlock',
  'generate_config',
  'enable_cbt',
  'disable_cbt',
  'data_destroy',
  'list_changed_blocks',
  'set_on_boot',
  'blocked',
  'revert_to',
  'revert_from',
]);
export const vdiType = t.enumOf('vdi_type', [
  'system',
  'user',
  'ephemeral',
  'suspend',
  'crashdump',
  'ha_statefile',
  'metadata',
  'redo_log',
  'rrd',
  'pvs_cache',
  'cbt_metadata',
]);
export const onBoot = t.enumOf('on_boot', ['reset', 'persist']);

export const VDI = defineClass({
  name: 'VDI',
  doc: 'A virtual disk image',
  fields: {
    uuid: field(t.string, 'DynamicRO', 'Unique identifier/object reference'),
    name_label: field(t.string, 'StaticRO', 'a human-readable name', { default: '' }),
    name_description: field(t.string, 'StaticRO', 'a notes field containing human-readable description', {
      default: '',
    }),
    allowed_operations: field(
      t.set(vdiOperations),
      'DynamicRO',
      'list of the operations allowed in this state. This list is advisory only and the server state may have changed by the time this field is read by a client.',
      { default: [], persist: false },
    ),
    current_operations: field(
      t.map(t.string, vdiOperations),
      'DynamicRO',
      'links each of the running tasks using this object (by reference) to a current_operation enum which describes the nature of the task.',
      { default: {}, persist: false },
    ),
    SR: field(t.ref('SR'), 'StaticRO', 'storage repository in which the VDI resides', {
      default: NULL_REF,
      inverse: 'VDIs',
    }),
    VBDs: field(t.set(t.ref('VBD')), 'DynamicRO', 'list of vbds that refer to this disk'),
    crash_dumps: field(t.set(t.ref('crashdump')), 'DynamicRO', 'list of crash dumps that refer to this disk'),
    virtual_size: field(
      t.int,
      'StaticRO',
      'size of disk as presented to the guest (in bytes). Note that, depending on storage backend type, requested size may not be respected exactly',
    ),
    physical_utilisation: field(
      t.int,
      'DynamicRO',
      'amount of physical space that the disk image is currently taking up on the storage repository (in bytes)',
    ),
    type: field(vdiType, 'StaticRO', 'type of the VDI'),
    sharable: field(t.bool, 'StaticRO', 'true if this disk may be shared'),
    read_only: field(t.bool, 'StaticRO', 'true if this disk may ONLY be mounted read-only'),
    other_config: field(stringMap, 'RW', 'additional configuration'),
    storage_lock: field(t.bool, 'DynamicRO', 'true if this disk is locked at the storage level'),
    location: field(t.string, 'DynamicRO', 'location information', { default: '' }),
    managed: field(
      t.bool,
      'DynamicRO',
      'true if the VDI is managed by the toolstack (xapi leaves this undocumented)',
    ),
    missing: field(t.bool, 'DynamicRO', 'true if SR scan operation reported this VDI as not present on disk'),
    parent: field(t.ref('VDI'), 'DynamicRO', 'This field is always null. Deprecated', {
      default: NULL_REF,
      deprecated: true,
    }),
    xenstore_data: field(
      stringMap,
      'RW',
      'data to be inserted into the xenstore tree (/local/domain/0/backend/vbd/<domid>/<device-id>/sm-data) after the VDI is attached. This is generally set by the SM backends on vdi_attach.',
      { default: {} },
    ),
    sm_config: field(stringMap, 'RW', 'SM dependent data', { default: {} }),
    is_a_snapshot: field(t.bool, 'DynamicRO', 'true if this is a snapshot.', { default: false }),
    snapshot_of: field(t.ref('VDI'), 'DynamicRO', 'Ref pointing to the VDI this snapshot is of.', {
      default: NULL_REF,
      inverse: 'snapshots',
    }),
    snapshots: field(t.set(t.ref('VDI')), 'DynamicRO', 'List pointing to all the VDIs snapshots.'),
    snapshot_time: field(t.datetime, 'DynamicRO', 'Date/time when this snapshot was created.', {
      default: NULL_DATE,
    }),
    tags: field(t.set(t.string), 'RW', 'user-specified tags for categorization purposes', { default: [] }),
    allow_caching: field(t.bool, 'DynamicRO', 'true if this VDI is to be cached in the local cache SR', {
      default: false,
    }),
    on_boot: field(onBoot, 'DynamicRO', 'The behaviour of this VDI on a VM boot', { default: 'persist' }),
    metadata_of_pool: field(t.ref('pool'), 'DynamicRO', 'The pool whose metadata is contained in this VDI', {
      default: NULL_REF,
      inverse: 'metadata_VDIs',
    }),
    metadata_latest: field(
      t.bool,
      'DynamicRO',
      'Whether this VDI contains the latest known accessible metadata for the pool',
      { default: false },
    ),
    is_tools_iso: field(t.bool, 'DynamicRO', 'Whether this VDI is a Tools ISO', { default: false }),
    cbt_enabled: field(t.bool, 'DynamicRO', 'True if changed blocks are tracked for this VDI', {
      default: false,
    }),
    // Poolstack additions (docs/storage.md): the read-write lease on this disk, as its holder last
    // reported it. The lease itself lives on the SR; these fields only show it.
    lease_holder: field(
      t.ref('host'),
      'DynamicRO',
      'The host holding the read-write lease on this disk (NULL when no host holds it); no other host may attach it read-write until the lease is released or has expired',
      { default: NULL_REF },
    ),
    lease_epoch: field(t.int, 'DynamicRO', 'The pool epoch the lease was last renewed in', { default: 0 }),
    lease_expires: field(
      t.datetime,
      'DynamicRO',
      "When the lease expires if its holder stops renewing it (the holder's clock, as last reported)",
      { default: NULL_DATE },
    ),
  },
  messages: {
    set_name_label: setter('VDI', 'name_label', t.string, 'Set the name label of the VDI', 'vm-admin'),
    set_name_description: setter(
      'VDI',
      'name_description',
      t.string,
      'Set the name description of the VDI',
      'vm-admin',
    ),
    create: message({
      params: [param('args', t.record('VDI'), 'All constructor arguments')],
      result: t.ref('VDI'),
      doc: 'Create a new VDI instance, and return its handle.',
      roles: 'vm-admin',
      async: true,
    }),
    destroy: message({
      params: [param('self', t.ref('VDI'), 'reference to the object')],
      result: t.void,
      doc: 'Destroy the specified VDI instance.',
      roles: 'vm-admin',
      async: true,
    }),
    clone: message({
      params: [
        param('vdi', t.ref('VDI'), 'The VDI to clone'),
        param(
          'driver_params',
          stringMap,
          'Optional parameters that are passed through to the backend driver in order to specify storage-type-specific clone options',
          { default: {} },
        ),
      ],
      result: t.ref('VDI'),
      doc: 'Take an exact copy of the VDI and return a reference to the new disk. If any driver_params are specified then these are passed through to the storage-specific substrate driver that implements the clone operation. NB the clone lives in the same Storage Repository as its parent.',
      roles: 'vm-admin',
      async: true,
    }),
    snapshot: message({
      params: [
        param('vdi', t.ref('VDI'), 'The VDI to snapshot'),
        param(
          'driver_params',
          stringMap,
          'Optional parameters that can be passed through to backend driver in order to specify storage-type-specific snapshot options',
          { default: {} },
        ),
      ],
      result: t.ref('VDI'),
      doc: 'Take a read-only snapshot of the VDI, returning a reference to the snapshot. If any driver_params are specified then these are passed through to the storage-specific substrate driver that takes the snapshot. NB the snapshot lives in the same Storage Repository as its parent.',
      roles: 'vm-admin',
      async: true,
    }),
    resize: message({
      params: [
        param('vdi', t.ref('VDI'), 'The VDI to resize'),
        param('size', t.int, 'The new size of the VDI'),
      ],
      result: t.void,
      doc: 'Resize the VDI.',
      roles: 'vm-admin',
      async: true,
    }),
    copy: message({
      params: [
        param('vdi', t.ref('VDI'), 'The VDI to copy'),
        param(
          'sr',
          t.ref('SR'),
          'The destination SR (only required if the destination VDI is not specified',
          { default: NULL_REF },
        ),
        param(
          'base_vdi',
          t.ref('VDI'),
          'The base VDI (only required if copying only changed blocks, by default all blocks will be copied)',
          { default: NULL_REF },
        ),
        param(
          'into_vdi',
          t.ref('VDI'),
          'The destination VDI to copy blocks into (if omitted then a destination SR must be provided and a fresh VDI will be created)',
          { default: NULL_REF },
        ),
      ],
      result: t.ref('VDI'),
      doc: 'Copy either a full VDI or the block differences between two VDIs into either a fresh VDI or an existing VDI.',
      errors: ['VDI_READONLY', 'VDI_TOO_SMALL', 'VDI_NOT_SPARSE'],
      roles: 'vm-admin',
      async: true,
    }),
  },
});
