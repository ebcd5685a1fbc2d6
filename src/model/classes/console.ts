// console: a text or graphical console of a VM (xapi datamodel.ml `Console`).
import { defineClass, field, message, param } from '../define.js';
import { NULL_REF, stringMap, t } from '../types.js';

export const consoleProtocol = t.enumOf('console_protocol', ['vt100', 'rfb', 'rdp']);

export const Console = defineClass({
  name: 'console',
  doc: 'A console',
  fields: {
    uuid: field(t.string, 'DynamicRO', 'Unique identifier/object reference'),
    protocol: field(consoleProtocol, 'DynamicRO', 'the protocol used by this console'),
    location: field(t.string, 'DynamicRO', 'URI for the console service'),
    VM: field(t.ref('VM'), 'DynamicRO', 'VM to which this console is attached', {
      default: NULL_REF,
      inverse: 'consoles',
    }),
    other_config: field(stringMap, 'RW', 'additional configuration'),
  },
  messages: {
    create: message({
      params: [param('args', t.record('console'), 'All constructor arguments')],
      result: t.ref('console'),
      doc: 'Create a new console instance, and return its handle.',
      roles: 'vm-admin',
      async: true,
    }),
    destroy: message({
      params: [param('self', t.ref('console'), 'reference to the object')],
      result: t.void,
      doc: 'Destroy the specified console instance.',
      roles: 'vm-admin',
      async: true,
    }),
  },
});
