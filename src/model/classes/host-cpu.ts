// host_cpu: a physical CPU of a host (xapi datamodel.ml `Host_cpu`).
import { defineClass, field } from '../define.js';
import { NULL_REF, stringMap, t } from '../types.js';

export const HostCpu = defineClass({
  name: 'host_cpu',
  doc: 'A physical CPU',
  fields: {
    uuid: field(t.string, 'DynamicRO', 'Unique identifier/object reference'),
    host: field(t.ref('host'), 'DynamicRO', 'the host the CPU is in', {
      default: NULL_REF,
      inverse: 'host_CPUs',
    }),
    number: field(t.int, 'DynamicRO', 'the number of the physical CPU within the host'),
    vendor: field(t.string, 'DynamicRO', 'the vendor of the physical CPU'),
    speed: field(t.int, 'DynamicRO', 'the speed of the physical CPU'),
    modelname: field(t.string, 'DynamicRO', 'the model name of the physical CPU'),
    family: field(t.int, 'DynamicRO', 'the family (number) of the physical CPU'),
    model: field(t.int, 'DynamicRO', 'the model number of the physical CPU'),
    stepping: field(t.string, 'DynamicRO', 'the stepping of the physical CPU'),
    flags: field(
      t.string,
      'DynamicRO',
      'the flags of the physical CPU (a decoded version of the features field)',
    ),
    features: field(t.string, 'DynamicRO', 'the physical CPU feature bitmap'),
    utilisation: field(t.float, 'DynamicRO', 'the current CPU utilisation', { persist: false }),
    other_config: field(stringMap, 'RW', 'additional configuration', { default: {} }),
  },
  messages: {},
});
