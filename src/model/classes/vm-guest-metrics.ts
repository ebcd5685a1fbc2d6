// VM_guest_metrics: what the guest agent reports (xapi datamodel.ml `VM_guest_metrics`).
import { defineClass, field } from '../define.js';
import { stringMap, t } from '../types.js';

export const tristateType = t.enumOf('tristate_type', ['yes', 'no', 'unspecified']);

export const VMGuestMetrics = defineClass({
  name: 'VM_guest_metrics',
  doc: 'The metrics reported by the guest (as opposed to inferred from outside)',
  fields: {
    uuid: field(t.string, 'DynamicRO', 'Unique identifier/object reference'),
    os_version: field(stringMap, 'DynamicRO', 'version of the OS'),
    netbios_name: field(stringMap, 'DynamicRO', 'The NETBIOS name of the machine', { default: {} }),
    PV_drivers_version: field(stringMap, 'DynamicRO', 'version of the PV drivers'),
    PV_drivers_up_to_date: field(t.bool, 'DynamicRO', 'Logically equivalent to PV_drivers_detected', {
      deprecated: true,
    }),
    networks: field(stringMap, 'DynamicRO', 'network configuration'),
    other: field(stringMap, 'DynamicRO', 'anything else'),
    last_updated: field(t.datetime, 'DynamicRO', 'Time at which this information was last updated'),
    other_config: field(stringMap, 'RW', 'additional configuration', { default: {} }),
    live: field(t.bool, 'DynamicRO', 'True if the guest is sending heartbeat messages via the guest agent', {
      default: false,
    }),
    can_use_hotplug_vbd: field(
      tristateType,
      'DynamicRO',
      "The guest's statement of whether it supports VBD hotplug, i.e. whether it is capable of responding immediately to instantiation of a new VBD by bringing online a new PV block device. If the guest states that it is not capable, then the VBD plug and unplug operations will not be allowed while the guest is running.",
      { default: 'unspecified' },
    ),
    can_use_hotplug_vif: field(
      tristateType,
      'DynamicRO',
      "The guest's statement of whether it supports VIF hotplug, i.e. whether it is capable of responding immediately to instantiation of a new VIF by bringing online a new PV network device. If the guest states that it is not capable, then the VIF plug and unplug operations will not be allowed while the guest is running.",
      { default: 'unspecified' },
    ),
    PV_drivers_detected: field(
      t.bool,
      'DynamicRO',
      "At least one of the guest's devices has successfully connected to the backend.",
      { default: false },
    ),
    services: field(stringMap, 'DynamicRO', "The guest's services data.", { default: {} }),
  },
  messages: {},
});
