// host: a physical server of the pool (xapi datamodel_host.ml).
import { defineClass, field, message, param } from '../define.js';
import { NULL_DATE, NULL_REF, stringMap, t } from '../types.js';

export const hostAllowedOperations = t.enumOf('host_allowed_operations', [
  'provision',
  'evacuate',
  'shutdown',
  'reboot',
  'power_on',
  'vm_start',
  'vm_resume',
  'vm_migrate',
  'apply_updates',
  'enable',
]);
export const hostDisplay = t.enumOf('host_display', [
  'enabled',
  'disable_on_reboot',
  'disabled',
  'enable_on_reboot',
]);
export const updateGuidances = t.enumOf('update_guidances', [
  'reboot_host',
  'reboot_host_on_livepatch_failure',
  'reboot_host_on_kernel_livepatch_failure',
  'reboot_host_on_xen_livepatch_failure',
  'restart_toolstack',
  'restart_device_model',
  'restart_vm',
]);
export const latestSyncedUpdatesAppliedState = t.enumOf('latest_synced_updates_applied_state', [
  'yes',
  'no',
  'unknown',
]);
export const hostNumaAffinityPolicy = t.enumOf('host_numa_affinity_policy', [
  'any',
  'best_effort',
  'default_policy',
]);
export const hostNtpMode = t.enumOf('host_ntp_mode', ['DHCP', 'Custom', 'Factory', 'Disabled']);

export const Host = defineClass({
  name: 'host',
  doc: 'A physical host',
  fields: {
    uuid: field(t.string, 'DynamicRO', 'Unique identifier/object reference'),
    name_label: field(t.string, 'RW', 'a human-readable name', { default: '' }),
    name_description: field(t.string, 'RW', 'a notes field containing human-readable description', {
      default: '',
    }),
    memory_overhead: field(t.int, 'DynamicRO', 'Virtualization memory overhead (bytes).', { default: 0 }),
    allowed_operations: field(
      t.set(hostAllowedOperations),
      'DynamicRO',
      'list of the operations allowed in this state. This list is advisory only and the server state may have changed by the time this field is read by a client.',
      { default: [], persist: false },
    ),
    current_operations: field(
      t.map(t.string, hostAllowedOperations),
      'DynamicRO',
      'links each of the running tasks using this object (by reference) to a current_operation enum which describes the nature of the task.',
      { default: {}, persist: false },
    ),
    API_version_major: field(t.int, 'DynamicRO', 'major version number'),
    API_version_minor: field(t.int, 'DynamicRO', 'minor version number'),
    API_version_vendor: field(t.string, 'DynamicRO', 'identification of vendor'),
    API_version_vendor_implementation: field(stringMap, 'DynamicRO', 'details of vendor implementation'),
    enabled: field(t.bool, 'DynamicRO', 'True if the host is currently enabled'),
    software_version: field(stringMap, 'StaticRO', 'version strings'),
    other_config: field(stringMap, 'RW', 'additional configuration'),
    capabilities: field(t.set(t.string), 'StaticRO', 'Xen capabilities'),
    cpu_configuration: field(
      stringMap,
      'DynamicRO',
      'The CPU configuration on this host.  May contain keys such as "nr_nodes", "sockets_per_node", "cores_per_socket", or "threads_per_core"',
    ),
    sched_policy: field(t.string, 'DynamicRO', 'Scheduler policy currently in force on this host'),
    supported_bootloaders: field(
      t.set(t.string),
      'DynamicRO',
      'a list of the bootloaders installed on the machine',
    ),
    resident_VMs: field(t.set(t.ref('VM')), 'DynamicRO', 'list of VMs currently resident on host'),
    logging: field(stringMap, 'RW', 'logging configuration'),
    PIFs: field(t.set(t.ref('PIF')), 'DynamicRO', 'physical network interfaces'),
    suspend_image_sr: field(t.ref('SR'), 'RW', 'The SR in which VDIs for suspend images are created', {
      default: NULL_REF,
    }),
    crash_dump_sr: field(t.ref('SR'), 'RW', 'The SR in which VDIs for crash dumps are created', {
      default: NULL_REF,
    }),
    crashdumps: field(t.set(t.ref('host_crashdump')), 'DynamicRO', 'Set of host crash dumps'),
    patches: field(t.set(t.ref('host_patch')), 'DynamicRO', 'Set of host patches', { deprecated: true }),
    updates: field(t.set(t.ref('pool_update')), 'DynamicRO', 'Set of updates'),
    PBDs: field(t.set(t.ref('PBD')), 'DynamicRO', 'physical blockdevices'),
    host_CPUs: field(t.set(t.ref('host_cpu')), 'DynamicRO', 'The physical CPUs on this host'),
    cpu_info: field(stringMap, 'DynamicRO', 'Details about the physical CPUs on this host', { default: {} }),
    hostname: field(t.string, 'RW', 'The hostname of this host'),
    address: field(
      t.string,
      'RW',
      'The address by which this host can be contacted from any other host in the pool',
    ),
    metrics: field(t.ref('host_metrics'), 'DynamicRO', 'metrics associated with this host', {
      default: NULL_REF,
    }),
    license_params: field(stringMap, 'DynamicRO', 'State of the current license'),
    ha_statefiles: field(t.set(t.string), 'DynamicRO', 'The set of statefiles accessible from this host', {
      default: [],
    }),
    ha_network_peers: field(
      t.set(t.string),
      'DynamicRO',
      'The set of hosts visible via the network from this host',
      { default: [] },
    ),
    blobs: field(t.map(t.string, t.ref('blob')), 'DynamicRO', 'Binary blobs associated with this host', {
      default: {},
    }),
    tags: field(t.set(t.string), 'RW', 'user-specified tags for categorization purposes', { default: [] }),
    external_auth_type: field(
      t.string,
      'DynamicRO',
      'type of external authentication service configured; empty if none configured.',
      { default: '' },
    ),
    external_auth_service_name: field(
      t.string,
      'DynamicRO',
      'name of external authentication service configured; empty if none configured.',
      { default: '' },
    ),
    external_auth_configuration: field(
      stringMap,
      'DynamicRO',
      'configuration specific to external authentication service',
      { default: {} },
    ),
    edition: field(t.string, 'DynamicRO', 'Product edition', { default: '' }),
    license_server: field(stringMap, 'RW', 'Contact information of the license server', {
      default: { address: 'localhost', port: '27000' },
    }),
    bios_strings: field(stringMap, 'DynamicRO', 'BIOS strings', { default: {} }),
    power_on_mode: field(t.string, 'DynamicRO', 'The power on mode', { default: '' }),
    power_on_config: field(stringMap, 'DynamicRO', 'The power on config', { default: {} }),
    local_cache_sr: field(t.ref('SR'), 'StaticRO', 'The SR that is used as a local cache', {
      default: NULL_REF,
    }),
    chipset_info: field(stringMap, 'DynamicRO', 'Information about chipset features', { default: {} }),
    PCIs: field(t.set(t.ref('PCI')), 'DynamicRO', 'List of PCI devices in the host'),
    PGPUs: field(t.set(t.ref('PGPU')), 'DynamicRO', 'List of physical GPUs in the host'),
    PUSBs: field(t.set(t.ref('PUSB')), 'DynamicRO', 'List of physical USBs in the host'),
    ssl_legacy: field(
      t.bool,
      'StaticRO',
      'Allow SSLv3 protocol and ciphersuites as used by older server versions. This controls both incoming and outgoing connections. When this is set to a different value, the host immediately restarts its SSL/TLS listening service; typically this takes less than a second but existing connections to it will be broken. API login sessions will remain valid.',
      { default: true, deprecated: true },
    ),
    guest_VCPUs_params: field(stringMap, 'RW', 'VCPUs params to apply to all resident guests', {
      default: {},
    }),
    display: field(
      hostDisplay,
      'RW',
      'indicates whether the host is configured to output its console to a physical display device',
      { default: 'enabled' },
    ),
    virtual_hardware_platform_versions: field(
      t.set(t.int),
      'DynamicRO',
      'The set of versions of the virtual hardware platform that the host can offer to its guests',
      { default: [0] },
    ),
    control_domain: field(t.ref('VM'), 'DynamicRO', 'The control domain (domain 0)', { default: NULL_REF }),
    updates_requiring_reboot: field(
      t.set(t.ref('pool_update')),
      'DynamicRO',
      'List of updates which require reboot',
    ),
    features: field(t.set(t.ref('Feature')), 'DynamicRO', 'List of features available on this host'),
    iscsi_iqn: field(t.string, 'StaticRO', 'The initiator IQN for the host', { default: '' }),
    multipathing: field(t.bool, 'StaticRO', 'Specifies whether multipathing is enabled', { default: false }),
    uefi_certificates: field(t.string, 'StaticRO', 'The UEFI certificates allowing Secure Boot', {
      default: '',
      deprecated: true,
    }),
    certificates: field(
      t.set(t.ref('Certificate')),
      'DynamicRO',
      'List of certificates installed in the host',
    ),
    editions: field(t.set(t.string), 'DynamicRO', 'List of all available product editions', { default: [] }),
    pending_guidances: field(
      t.set(updateGuidances),
      'DynamicRO',
      'The set of pending mandatory guidances after applying updates, which must be applied, otherwise there may be, for example, VM failures',
      { default: [] },
    ),
    tls_verification_enabled: field(t.bool, 'DynamicRO', 'True if this host has TLS verifcation enabled', {
      default: false,
    }),
    last_software_update: field(
      t.datetime,
      'DynamicRO',
      'Date and time when the last software update was applied',
      { default: NULL_DATE },
    ),
    https_only: field(t.bool, 'DynamicRO', 'Reflects whether port 80 is open (false) or not (true)', {
      default: false,
    }),
    latest_synced_updates_applied: field(
      latestSyncedUpdatesAppliedState,
      'DynamicRO',
      "Default as 'unknown', 'yes' if the host is up to date with updates synced from remote CDN, otherwise 'no'",
      { default: 'unknown' },
    ),
    numa_affinity_policy: field(
      hostNumaAffinityPolicy,
      'DynamicRO',
      'NUMA-aware VM memory and vCPU placement policy',
      { default: 'default_policy' },
    ),
    pending_guidances_recommended: field(
      t.set(updateGuidances),
      'DynamicRO',
      'The set of pending recommended guidances after applying updates, which most users should follow to make the updates effective, but if not followed, will not cause a failure',
      { default: [] },
    ),
    pending_guidances_full: field(
      t.set(updateGuidances),
      'DynamicRO',
      "The set of pending full guidances after applying updates, which a user should follow to make some updates, for example, specific hardware drivers or CPU features, fully effective, but the 'average user' doesn't need to",
      { default: [] },
    ),
    last_update_hash: field(
      t.string,
      'DynamicRO',
      'The SHA256 checksum of updateinfo of the most recently applied update on the host',
      { default: '' },
    ),
    ssh_enabled: field(t.bool, 'DynamicRO', 'True if SSH access is enabled for the host', { default: true }),
    ssh_enabled_timeout: field(
      t.int,
      'DynamicRO',
      'The timeout in seconds after which SSH access will be automatically disabled (0 means never), this setting will be applied every time the SSH is enabled by XAPI',
      { default: 0 },
    ),
    ssh_expiry: field(
      t.datetime,
      'DynamicRO',
      'The time in UTC after which the SSH access will be automatically disabled',
      { default: NULL_DATE },
    ),
    console_idle_timeout: field(
      t.int,
      'DynamicRO',
      'The timeout in seconds after which idle console will be automatically terminated (0 means never)',
      { default: 0 },
    ),
    ssh_auto_mode: field(t.bool, 'DynamicRO', 'Reflects whether SSH auto mode is enabled for the host', {
      default: false,
    }),
    max_cstate: field(
      t.string,
      'DynamicRO',
      'The maximum C-state that the host is allowed to enter, "" means unlimited; "N" means limit to CN; "N,M" means limit to CN with max sub cstate M.',
      { default: '' },
    ),
    secure_boot: field(t.bool, 'DynamicRO', 'Whether the host has booted in secure boot mode', {
      default: false,
    }),
    ntp_mode: field(
      hostNtpMode,
      'DynamicRO',
      'Indicates NTP servers are assigned by DHCP, or configured by user, or the factory servers, or NTP is disabled',
      { default: 'Factory' },
    ),
    ntp_custom_servers: field(
      t.set(t.string),
      'DynamicRO',
      'Custom NTP servers configured by users, used in Custom NTP mode',
      { default: [] },
    ),
    timezone: field(
      t.string,
      'DynamicRO',
      'The time zone identifier as defined in the IANA Time Zone Database',
      { default: 'UTC' },
    ),
  },
  messages: {
    get_servertime: message({
      params: [param('host', t.ref('host'), 'The host whose clock should be queried')],
      result: t.datetime,
      doc: "This call queries the host's clock for the current time",
      roles: 'read-only',
    }),
    enable: message({
      params: [param('host', t.ref('host'), 'The Host to enable')],
      result: t.void,
      doc: 'Puts the host into a state in which new VMs can be started.',
      roles: 'pool-operator',
      async: true,
    }),
    disable: message({
      params: [
        param('host', t.ref('host'), 'The Host to disable'),
        param(
          'auto_enable',
          t.bool,
          'If true (the default), the host will be re-enabled after a toolstack restart',
          { default: true },
        ),
      ],
      result: t.void,
      doc: 'Puts the host into a state in which no new VMs can be started. Currently active VMs on the host continue to execute.',
      roles: 'pool-operator',
      async: true,
    }),
    evacuate: message({
      params: [param('host', t.ref('host'), 'The host to evacuate')],
      result: t.void,
      doc: 'Migrate all VMs off of this host, where possible.',
      errors: ['NO_HOSTS_AVAILABLE', 'HOST_NOT_ENOUGH_FREE_MEMORY'],
      roles: 'pool-operator',
      async: true,
    }),
    shutdown: message({
      params: [param('host', t.ref('host'), 'The Host to shutdown')],
      result: t.void,
      doc: 'Shutdown the host. (This function can only be called if there are no currently running VMs on the host and it is disabled.)',
      errors: ['HOST_NOT_DISABLED', 'HOST_IN_USE'],
      roles: 'pool-operator',
      async: true,
    }),
    reboot: message({
      params: [param('host', t.ref('host'), 'The Host to reboot')],
      result: t.void,
      doc: 'Reboot the host. (This function can only be called if there are no currently running VMs on the host and it is disabled.)',
      errors: ['HOST_NOT_DISABLED', 'HOST_IN_USE'],
      roles: 'pool-operator',
      async: true,
    }),
    compute_free_memory: message({
      params: [param('host', t.ref('host'), 'The host to send the request to')],
      result: t.int,
      doc: 'Computes the amount of free memory on the host.',
      roles: 'read-only',
      async: true,
    }),
    is_in_emergency_mode: message({
      params: [],
      result: t.bool,
      doc: 'Diagnostics call to discover if host is in emergency mode',
      roles: 'read-only',
    }),
    get_server_localtime: message({
      params: [param('host', t.ref('host'), 'The host whose clock should be queried')],
      result: t.datetime,
      doc: "This call queries the host's clock for the current time in the host's local timezone",
      roles: 'read-only',
    }),
  },
});
