// message: an alert for the administrator (xapi datamodel.ml `Message`).
import { defineClass, field, message, param } from '../define.js';
import { t } from '../types.js';

export const messageCls = t.enumOf('cls', [
  'VM',
  'Host',
  'SR',
  'Pool',
  'VMPP',
  'VMSS',
  'PVS_proxy',
  'VDI',
  'Certificate',
]);

export const Message = defineClass({
  name: 'message',
  doc: 'An message for the attention of the administrator',
  fields: {
    uuid: field(t.string, 'DynamicRO', 'Unique identifier/object reference'),
    name: field(t.string, 'DynamicRO', 'The name of the message'),
    priority: field(t.int, 'DynamicRO', 'The message priority, 0 being low priority'),
    cls: field(messageCls, 'DynamicRO', 'The class of the object this message is associated with'),
    obj_uuid: field(t.string, 'DynamicRO', 'The uuid of the object this message is associated with'),
    timestamp: field(t.datetime, 'DynamicRO', 'The time at which the message was created'),
    body: field(t.string, 'DynamicRO', 'The body of the message'),
  },
  messages: {
    create: message({
      params: [
        param('name', t.string, 'The name of the message'),
        param('priority', t.int, 'The priority of the message'),
        param('cls', messageCls, 'The class of object this message is associated with'),
        param('obj_uuid', t.string, 'The uuid of the object this message is associated with'),
        param('body', t.string, 'The body of the message'),
      ],
      result: t.ref('message'),
      doc: '',
      roles: 'pool-operator',
    }),
    destroy: message({
      params: [param('self', t.ref('message'), 'The reference of the message to destroy')],
      result: t.void,
      doc: '',
      roles: 'pool-operator',
    }),
    get_since: message({
      params: [param('since', t.datetime, 'The cutoff time. When the timezone is missing, UTC is assumed')],
      result: t.map(t.ref('message'), t.record('message')),
      doc: '',
      roles: 'read-only',
    }),
  },
});
