// host_metrics: memory and liveness of a host (xapi datamodel.ml `Host_metrics`).
import { defineClass, field } from '../define.js';
import { stringMap, t } from '../types.js';

export const HostMetrics = defineClass({
  name: 'host_metrics',
  doc: 'The metrics associated with a host',
  fields: {
    uuid: field(t.string, 'DynamicRO', 'Unique identifier/object reference'),
    memory_total: field(t.int, 'DynamicRO', 'Total host memory (bytes)'),
    // Removed from xapi's datamodel (superseded by RRDs) but still in its records, and Xen Orchestra reads it.
    memory_free: field(t.int, 'DynamicRO', 'Free host memory (bytes)', { default: 0, deprecated: true }),
    live: field(t.bool, 'DynamicRO', 'Pool master thinks this host is live'),
    last_updated: field(t.datetime, 'DynamicRO', 'Time at which this information was last updated'),
    other_config: field(stringMap, 'RW', 'additional configuration', { default: {} }),
  },
  messages: {},
});
