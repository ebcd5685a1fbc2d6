// PIF: a physical (or VLAN) network interface of a host (xapi datamodel.ml `PIF`).
import { defineClass, field } from '../define.js';
import { NULL_REF, stringMap, t } from '../types.js';

export const ipConfigurationMode = t.enumOf('ip_configuration_mode', ['None', 'DHCP', 'Static']);
export const ipv6ConfigurationMode = t.enumOf('ipv6_configuration_mode', [
  'None',
  'DHCP',
  'Static',
  'Autoconf',
]);
export const primaryAddressType = t.enumOf('primary_address_type', ['IPv4', 'IPv6']);
export const pifIgmpStatus = t.enumOf('pif_igmp_status', ['enabled', 'disabled', 'unknown']);

export const PIF = defineClass({
  name: 'PIF',
  doc: 'A physical network interface (note separate VLANs are represented as several PIFs)',
  fields: {
    uuid: field(t.string, 'DynamicRO', 'Unique identifier/object reference'),
    device: field(t.string, 'StaticRO', 'machine-readable name of the interface (for example, eth0)'),
    network: field(t.ref('network'), 'StaticRO', 'virtual network to which this pif is connected', {
      default: NULL_REF,
      inverse: 'PIFs',
    }),
    host: field(t.ref('host'), 'StaticRO', 'physical machine to which this pif is connected', {
      default: NULL_REF,
      inverse: 'PIFs',
    }),
    MAC: field(t.string, 'StaticRO', 'ethernet MAC address of physical interface'),
    MTU: field(t.int, 'StaticRO', 'MTU in octets'),
    VLAN: field(t.int, 'StaticRO', 'VLAN tag for all traffic passing through this interface'),
    metrics: field(t.ref('PIF_metrics'), 'DynamicRO', 'metrics associated with this PIF', {
      default: NULL_REF,
    }),
    physical: field(t.bool, 'DynamicRO', 'true if this represents a physical network interface', {
      default: false,
    }),
    currently_attached: field(t.bool, 'DynamicRO', 'true if this interface is online', { default: true }),
    ip_configuration_mode: field(
      ipConfigurationMode,
      'DynamicRO',
      'Sets if and how this interface gets an IP address',
      { default: 'None' },
    ),
    IP: field(t.string, 'DynamicRO', 'IP address', { default: '' }),
    netmask: field(t.string, 'DynamicRO', 'IP netmask', { default: '' }),
    gateway: field(t.string, 'DynamicRO', 'IP gateway', { default: '' }),
    DNS: field(t.string, 'DynamicRO', 'Comma separated list of the IP addresses of the DNS servers to use', {
      default: '',
    }),
    bond_slave_of: field(t.ref('Bond'), 'DynamicRO', 'Indicates which bond this interface is part of', {
      default: NULL_REF,
    }),
    bond_master_of: field(
      t.set(t.ref('Bond')),
      'DynamicRO',
      'Indicates this PIF represents the results of a bond',
    ),
    VLAN_master_of: field(
      t.ref('VLAN'),
      'DynamicRO',
      'Indicates which VLAN this interface receives untagged traffic from',
      { default: NULL_REF },
    ),
    VLAN_slave_of: field(
      t.set(t.ref('VLAN')),
      'DynamicRO',
      'Indicates which VLANs this interface transmits tagged traffic to',
    ),
    management: field(
      t.bool,
      'DynamicRO',
      'Indicates whether the control software is listening for connections on this interface',
      { default: false },
    ),
    other_config: field(stringMap, 'RW', 'Additional configuration', { default: {} }),
    disallow_unplug: field(
      t.bool,
      'DynamicRO',
      "Prevent this PIF from being unplugged; set this to notify the management tool-stack that the PIF has a special use and should not be unplugged under any circumstances (for example, because you're running storage traffic over it)",
      { default: false },
    ),
    tunnel_access_PIF_of: field(
      t.set(t.ref('tunnel')),
      'DynamicRO',
      'Indicates to which tunnel this PIF gives access',
    ),
    tunnel_transport_PIF_of: field(
      t.set(t.ref('tunnel')),
      'DynamicRO',
      'Indicates to which tunnel this PIF provides transport',
    ),
    ipv6_configuration_mode: field(
      ipv6ConfigurationMode,
      'DynamicRO',
      'Sets if and how this interface gets an IPv6 address',
      { default: 'None' },
    ),
    IPv6: field(t.set(t.string), 'DynamicRO', 'IPv6 address', { default: [] }),
    ipv6_gateway: field(t.string, 'DynamicRO', 'IPv6 gateway', { default: '' }),
    primary_address_type: field(
      primaryAddressType,
      'DynamicRO',
      'Which protocol should define the primary address of this interface',
      { default: 'IPv4' },
    ),
    managed: field(
      t.bool,
      'StaticRO',
      'Indicates whether the interface is managed by xapi. If it is not, then xapi will not configure the interface, the commands PIF.plug/unplug/reconfigure_ip(v6) cannot be used, nor can the interface be bonded or have VLANs based on top through xapi.',
      { default: true },
    ),
    properties: field(stringMap, 'DynamicRO', 'Additional configuration properties for the interface.', {
      default: {},
    }),
    capabilities: field(t.set(t.string), 'DynamicRO', 'Additional capabilities on the interface.', {
      default: [],
    }),
    igmp_snooping_status: field(
      pifIgmpStatus,
      'DynamicRO',
      'The IGMP snooping status of the corresponding network bridge',
      { default: 'unknown' },
    ),
    sriov_physical_PIF_of: field(
      t.set(t.ref('network_sriov')),
      'DynamicRO',
      'Indicates which network_sriov this interface is physical of',
    ),
    sriov_logical_PIF_of: field(
      t.set(t.ref('network_sriov')),
      'DynamicRO',
      'Indicates which network_sriov this interface is logical of',
    ),
    PCI: field(t.ref('PCI'), 'DynamicRO', 'Link to underlying PCI device', { default: NULL_REF }),
  },
  messages: {},
});
