// secret: a stored secret value, e.g. a password (xapi datamodel.ml `Secret`).
import { defineClass, field, message, param } from '../define.js';
import { stringMap, t } from '../types.js';

export const Secret = defineClass({
  name: 'secret',
  doc: 'A secret',
  fields: {
    uuid: field(t.string, 'DynamicRO', 'Unique identifier/object reference'),
    value: field(t.string, 'RW', 'the secret'),
    other_config: field(stringMap, 'RW', 'other_config', { default: {} }),
  },
  messages: {
    create: message({
      params: [param('args', t.record('secret'), 'All constructor arguments')],
      result: t.ref('secret'),
      doc: 'Create a new secret instance, and return its handle.',
      roles: 'pool-operator',
      async: true,
    }),
    destroy: message({
      params: [param('self', t.ref('secret'), 'reference to the object')],
      result: t.void,
      doc: 'Destroy the specified secret instance.',
      roles: 'pool-operator',
      async: true,
    }),
  },
});
