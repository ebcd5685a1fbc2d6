// PBD: how one host reaches one SR (xapi datamodel.ml `PBD`).
import { defineClass, field, message, param } from '../define.js';
import { NULL_REF, stringMap, t } from '../types.js';

export const PBD = defineClass({
  name: 'PBD',
  doc: 'The physical block devices through which hosts access SRs',
  fields: {
    uuid: field(t.string, 'DynamicRO', 'Unique identifier/object reference'),
    host: field(t.ref('host'), 'StaticRO', 'physical machine on which the pbd is available', {
      default: NULL_REF,
      inverse: 'PBDs',
    }),
    SR: field(t.ref('SR'), 'StaticRO', 'the storage repository that the pbd realises', {
      default: NULL_REF,
      inverse: 'PBDs',
    }),
    device_config: field(
      stringMap,
      'StaticRO',
      "a config string to string map that is provided to the host's SR-backend-driver",
    ),
    currently_attached: field(t.bool, 'DynamicRO', 'is the SR currently attached on this host?'),
    other_config: field(stringMap, 'RW', 'additional configuration', { default: {} }),
  },
  messages: {
    create: message({
      params: [param('args', t.record('PBD'), 'All constructor arguments')],
      result: t.ref('PBD'),
      doc: 'Create a new PBD instance, and return its handle.',
      roles: 'pool-operator',
      async: true,
    }),
    destroy: message({
      params: [param('self', t.ref('PBD'), 'reference to the object')],
      result: t.void,
      doc: 'Destroy the specified PBD instance.',
      errors: ['DEVICE_ALREADY_ATTACHED'],
      roles: 'pool-operator',
      async: true,
    }),
    plug: message({
      params: [param('self', t.ref('PBD'), 'The PBD to activate')],
      result: t.void,
      doc: 'Activate the specified PBD, causing the referenced SR to be attached and scanned',
      errors: ['SR_UNKNOWN_DRIVER'],
      roles: 'pool-operator',
      async: true,
    }),
    unplug: message({
      params: [param('self', t.ref('PBD'), 'The PBD to deactivate')],
      result: t.void,
      doc: 'Deactivate the specified PBD, causing the referenced SR to be detached and nolonger scanned',
      roles: 'pool-operator',
      async: true,
    }),
  },
});
