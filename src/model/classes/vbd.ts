// VBD: a virtual block device joining a VM to a VDI (xapi datamodel.ml `VBD`).
import { defineClass, field, message, param } from '../define.js';
import { NULL_REF, stringMap, t } from '../types.js';

export const vbdOperations = t.enumOf('vbd_operations', [
  'attach',
  'eject',
  'insert',
  'plug',
  'unplug',
  'unplug_force',
  'pause',
  'unpause',
]);
export const vbdMode = t.enumOf('vbd_mode', ['RO', 'RW']);
export const vbdType = t.enumOf('vbd_type', ['CD', 'Disk', 'Floppy']);

export const VBD = defineClass({
  name: 'VBD',
  doc: 'A virtual block device',
  fields: {
    uuid: field(t.string, 'DynamicRO', 'Unique identifier/object reference'),
    allowed_operations: field(
      t.set(vbdOperations),
      'DynamicRO',
      'list of the operations allowed in this state. This list is advisory only and the server state may have changed by the time this field is read by a client.',
      { default: [], persist: false },
    ),
    current_operations: field(
      t.map(t.string, vbdOperations),
      'DynamicRO',
      'links each of the running tasks using this object (by reference) to a current_operation enum which describes the nature of the task.',
      { default: {}, persist: false },
    ),
    VM: field(t.ref('VM'), 'StaticRO', 'the virtual machine', { default: NULL_REF, inverse: 'VBDs' }),
    VDI: field(t.ref('VDI'), 'StaticRO', 'the virtual disk', { default: NULL_REF, inverse: 'VBDs' }),
    device: field(t.string, 'StaticRO', 'device seen by the guest, for example, hda1', { default: '' }),
    userdevice: field(t.string, 'RW', 'user-friendly device name, for example, 0, 1, 2, etc.'),
    bootable: field(t.bool, 'RW', 'true if this VBD is bootable'),
    mode: field(vbdMode, 'StaticRO', 'the mode the VBD should be mounted with'),
    type: field(vbdType, 'RW', 'how the VBD will appear to the guest (for example, disk or CD)'),
    unpluggable: field(t.bool, 'RW', 'true if this VBD will support hot-unplug', { default: true }),
    storage_lock: field(t.bool, 'DynamicRO', 'true if a storage level lock was acquired'),
    empty: field(t.bool, 'StaticRO', 'if true this represents an empty drive'),
    other_config: field(stringMap, 'RW', 'additional configuration'),
    currently_attached: field(t.bool, 'StaticRO', 'is the device currently attached (erased on reboot)', {
      default: false,
    }),
    status_code: field(
      t.int,
      'DynamicRO',
      'error/success code associated with last attach-operation (erased on reboot)',
    ),
    status_detail: field(
      t.string,
      'DynamicRO',
      'error/success information associated with last attach-operation status (erased on reboot)',
    ),
    runtime_properties: field(stringMap, 'DynamicRO', 'Device runtime properties'),
    qos_algorithm_type: field(t.string, 'RW', 'QoS algorithm to use'),
    qos_algorithm_params: field(stringMap, 'RW', 'parameters for chosen QoS algorithm'),
    qos_supported_algorithms: field(t.set(t.string), 'DynamicRO', 'supported QoS algorithms for this VBD'),
  },
  messages: {
    create: message({
      params: [param('args', t.record('VBD'), 'All constructor arguments')],
      result: t.ref('VBD'),
      doc: 'Create a new VBD instance, and return its handle.',
      roles: 'vm-admin',
      async: true,
    }),
    destroy: message({
      params: [param('self', t.ref('VBD'), 'reference to the object')],
      result: t.void,
      doc: 'Destroy the specified VBD instance.',
      roles: 'vm-admin',
      async: true,
    }),
    eject: message({
      params: [param('vbd', t.ref('VBD'), 'The vbd representing the CDROM-like device')],
      result: t.void,
      doc: 'Remove the media from the device and leave it empty',
      errors: ['VBD_NOT_REMOVABLE_MEDIA', 'VBD_IS_EMPTY'],
      roles: 'vm-operator',
      async: true,
    }),
    insert: message({
      params: [
        param('vbd', t.ref('VBD'), 'The vbd representing the CDROM-like device'),
        param('vdi', t.ref('VDI'), "The new VDI to 'insert'"),
      ],
      result: t.void,
      doc: 'Insert new media into the device',
      errors: ['VBD_NOT_REMOVABLE_MEDIA', 'VBD_NOT_EMPTY'],
      roles: 'vm-operator',
      async: true,
    }),
    plug: message({
      params: [param('self', t.ref('VBD'), 'The VBD to hotplug')],
      result: t.void,
      doc: 'Hotplug the specified VBD, dynamically attaching it to the running VM',
      roles: 'vm-admin',
      async: true,
    }),
    unplug: message({
      params: [param('self', t.ref('VBD'), 'The VBD to hot-unplug')],
      result: t.void,
      doc: 'Hot-unplug the specified VBD, dynamically unattaching it from the running VM',
      errors: ['DEVICE_DETACH_REJECTED', 'DEVICE_ALREADY_DETACHED'],
      roles: 'vm-admin',
      async: true,
    }),
    unplug_force: message({
      params: [param('self', t.ref('VBD'), 'The VBD to forcibly unplug')],
      result: t.void,
      doc: 'Forcibly unplug the specified VBD',
      roles: 'vm-admin',
      async: true,
    }),
  },
});
