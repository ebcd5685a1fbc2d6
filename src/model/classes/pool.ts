// pool: the single pool-wide record (xapi datamodel_pool.ml).
import { defineClass, field, message, param } from '../define.js';
import { NULL_DATE, NULL_REF, stringMap, t } from '../types.js';

export const poolAllowedOperations = t.enumOf('pool_allowed_operations', [
  'ha_enable',
  'ha_disable',
  'cluster_create',
  'designate_new_master',
  'configure_repositories',
  'sync_updates',
  'sync_bundle',
  'get_updates',
  'apply_updates',
  'tls_verification_enable',
  'cert_refresh',
  'exchange_certificates_on_join',
  'exchange_ca_certificates_on_join',
  'copy_primary_host_certs',
  'eject',
  'exchange_crls_on_join',
]);
/** How many hosts must hold a write before it is acknowledged (Poolstack; docs/replication.md). */
export const replicationMode = t.enumOf('replication_mode', ['majority', 'all', 'async']);
export const telemetryFrequency = t.enumOf('telemetry_frequency', ['daily', 'weekly', 'monthly']);
export const updateSyncFrequency = t.enumOf('update_sync_frequency', ['daily', 'weekly']);

/** pool.join and pool.join_force take the same parameters. */
const joinParams = [
  param('master_address', t.string, 'The hostname of the master of the pool to join'),
  param('master_username', t.string, 'The username of the master (for initial authentication)'),
  param('master_password', t.string, 'The password for the master (for initial authentication)'),
] as const;

export const Pool = defineClass({
  name: 'pool',
  doc: 'Pool-wide information',
  fields: {
    uuid: field(t.string, 'DynamicRO', 'Unique identifier/object reference'),
    name_label: field(t.string, 'RW', 'Short name'),
    name_description: field(t.string, 'RW', 'Description'),
    master: field(t.ref('host'), 'DynamicRO', 'The host that is pool master', { default: NULL_REF }),
    default_SR: field(t.ref('SR'), 'RW', 'Default SR for VDIs', { default: NULL_REF }),
    suspend_image_SR: field(t.ref('SR'), 'RW', 'The SR in which VDIs for suspend images are created', {
      default: NULL_REF,
    }),
    crash_dump_SR: field(t.ref('SR'), 'RW', 'The SR in which VDIs for crash dumps are created', {
      default: NULL_REF,
    }),
    other_config: field(stringMap, 'RW', 'additional configuration'),
    ha_enabled: field(t.bool, 'DynamicRO', 'true if HA is enabled on the pool, false otherwise', {
      default: false,
    }),
    ha_configuration: field(stringMap, 'DynamicRO', 'The current HA configuration', { default: {} }),
    ha_statefiles: field(t.set(t.string), 'DynamicRO', 'HA statefile VDIs in use', { default: [] }),
    ha_host_failures_to_tolerate: field(
      t.int,
      'DynamicRO',
      'Number of host failures to tolerate before the Pool is declared to be overcommitted',
      { default: 0 },
    ),
    ha_plan_exists_for: field(
      t.int,
      'DynamicRO',
      'Number of future host failures we have managed to find a plan for. Once this reaches zero any future host failures will cause the failure of protected VMs.',
      { default: 0 },
    ),
    ha_allow_overcommit: field(
      t.bool,
      'RW',
      'If set to false then operations which would cause the Pool to become overcommitted will be blocked.',
      { default: false },
    ),
    ha_overcommitted: field(
      t.bool,
      'DynamicRO',
      'True if the Pool is considered to be overcommitted i.e. if there exist insufficient physical resources to tolerate the configured number of host failures',
      { default: false },
    ),
    blobs: field(t.map(t.string, t.ref('blob')), 'DynamicRO', 'Binary blobs associated with this pool', {
      default: {},
    }),
    tags: field(t.set(t.string), 'RW', 'user-specified tags for categorization purposes', { default: [] }),
    gui_config: field(stringMap, 'RW', 'gui-specific configuration for pool', { default: {} }),
    health_check_config: field(stringMap, 'RW', 'Configuration for the automatic health check feature', {
      default: {},
    }),
    wlb_url: field(t.string, 'DynamicRO', 'Url for the configured workload balancing host', { default: '' }),
    wlb_username: field(t.string, 'DynamicRO', 'Username for accessing the workload balancing host', {
      default: '',
    }),
    wlb_enabled: field(t.bool, 'RW', 'true if workload balancing is enabled on the pool, false otherwise', {
      default: false,
    }),
    wlb_verify_cert: field(
      t.bool,
      'RW',
      'true if communication with the WLB server should enforce TLS certificate verification.',
      { default: false, deprecated: true },
    ),
    redo_log_enabled: field(
      t.bool,
      'DynamicRO',
      'true a redo-log is to be used other than when HA is enabled, false otherwise',
      { default: false },
    ),
    redo_log_vdi: field(
      t.ref('VDI'),
      'DynamicRO',
      'indicates the VDI to use for the redo-log other than when HA is enabled',
      { default: NULL_REF },
    ),
    vswitch_controller: field(t.string, 'DynamicRO', 'address of the vswitch controller', {
      default: '',
      deprecated: true,
    }),
    restrictions: field(stringMap, 'DynamicRO', 'Pool-wide restrictions currently in effect', {
      default: {},
    }),
    metadata_VDIs: field(
      t.set(t.ref('VDI')),
      'DynamicRO',
      'The set of currently known metadata VDIs for this pool',
    ),
    ha_cluster_stack: field(
      t.string,
      'DynamicRO',
      'The HA cluster stack that is currently in use. Only valid when HA is enabled.',
      { default: '' },
    ),
    allowed_operations: field(
      t.set(poolAllowedOperations),
      'DynamicRO',
      'list of the operations allowed in this state. This list is advisory only and the server state may have changed by the time this field is read by a client.',
      { default: [], persist: false },
    ),
    current_operations: field(
      t.map(t.string, poolAllowedOperations),
      'DynamicRO',
      'links each of the running tasks using this object (by reference) to a current_operation enum which describes the nature of the task.',
      { default: {}, persist: false },
    ),
    guest_agent_config: field(stringMap, 'DynamicRO', 'Pool-wide guest agent configuration information', {
      default: {},
    }),
    cpu_info: field(stringMap, 'DynamicRO', 'Details about the physical CPUs on the pool', { default: {} }),
    policy_no_vendor_device: field(
      t.bool,
      'RW',
      "This field was consulted when VM.create did not specify a value for 'has_vendor_device'; VM.create now uses a simple default and no longer consults this value.",
      { default: false, deprecated: true },
    ),
    live_patching_disabled: field(
      t.bool,
      'RW',
      'The pool-wide flag to show if the live patching feauture is disabled or not.',
      { default: false },
    ),
    igmp_snooping_enabled: field(
      t.bool,
      'DynamicRO',
      'true if IGMP snooping is enabled in the pool, false otherwise.',
      { default: false },
    ),
    uefi_certificates: field(t.string, 'StaticRO', 'The UEFI certificates allowing Secure Boot', {
      default: '',
    }),
    custom_uefi_certificates: field(t.string, 'StaticRO', 'Custom UEFI certificates allowing Secure Boot', {
      default: '',
    }),
    is_psr_pending: field(
      t.bool,
      'RW',
      'True if either a PSR is running or we are waiting for a PSR to be re-run',
      { default: false },
    ),
    tls_verification_enabled: field(t.bool, 'DynamicRO', 'True iff TLS certificate verification is enabled', {
      default: false,
    }),
    repositories: field(
      t.set(t.ref('Repository')),
      'DynamicRO',
      'The set of currently enabled repositories',
      { default: [] },
    ),
    client_certificate_auth_enabled: field(
      t.bool,
      'DynamicRO',
      'True if authentication by TLS client certificates is enabled',
      { default: false },
    ),
    client_certificate_auth_name: field(
      t.string,
      'DynamicRO',
      'The name (CN/SAN) that an incoming client certificate must have to allow authentication',
      { default: '' },
    ),
    repository_proxy_url: field(
      t.string,
      'DynamicRO',
      'Url of the proxy used in syncing with the enabled repositories',
      { default: '' },
    ),
    repository_proxy_username: field(
      t.string,
      'DynamicRO',
      'Username for the authentication of the proxy used in syncing with the enabled repositories',
      { default: '' },
    ),
    repository_proxy_password: field(
      t.ref('secret'),
      'DynamicRO',
      'Password for the authentication of the proxy used in syncing with the enabled repositories',
      { default: NULL_REF },
    ),
    migration_compression: field(
      t.bool,
      'RW',
      'Default behaviour during migration, True if stream compression should be used',
      { default: false },
    ),
    coordinator_bias: field(
      t.bool,
      'RW',
      'true if bias against pool master when scheduling vms is enabled, false otherwise',
      { default: true },
    ),
    local_auth_max_threads: field(
      t.int,
      'StaticRO',
      'Maximum number of threads to use for PAM authentication',
      { default: 8 },
    ),
    ext_auth_max_threads: field(
      t.int,
      'StaticRO',
      'Maximum number of threads to use for external (AD) authentication',
      { default: 1 },
    ),
    ext_auth_cache_enabled: field(
      t.bool,
      'DynamicRO',
      'Specifies whether external authentication caching is enabled for this pool or not',
      { default: true },
    ),
    ext_auth_cache_size: field(t.int, 'DynamicRO', 'Maximum capacity of external authentication cache', {
      default: 50,
    }),
    ext_auth_cache_expiry: field(
      t.int,
      'DynamicRO',
      'Specifies how long external authentication entries should be cached for (seconds)',
      { default: 300 },
    ),
    telemetry_uuid: field(
      t.ref('secret'),
      'DynamicRO',
      'The UUID of the pool for identification of telemetry data',
      { default: NULL_REF },
    ),
    telemetry_frequency: field(
      telemetryFrequency,
      'DynamicRO',
      'How often the telemetry collection will be carried out',
      { default: 'weekly' },
    ),
    telemetry_next_collection: field(
      t.datetime,
      'DynamicRO',
      'The earliest timestamp (in UTC) when the next round of telemetry collection can be carried out',
      { default: NULL_DATE },
    ),
    last_update_sync: field(t.datetime, 'DynamicRO', 'time of the last update sychronization', {
      default: NULL_DATE,
    }),
    update_sync_frequency: field(
      updateSyncFrequency,
      'DynamicRO',
      'The frequency at which updates are synchronized from a remote CDN: daily or weekly.',
      { default: 'weekly' },
    ),
    update_sync_day: field(
      t.int,
      'DynamicRO',
      "The day of the week the update synchronizations will be scheduled, based on pool's local timezone. Ignored when update_sync_frequency is daily",
      { default: 0 },
    ),
    update_sync_enabled: field(
      t.bool,
      'DynamicRO',
      'Whether periodic update synchronization is enabled or not',
      { default: false },
    ),
    recommendations: field(
      stringMap,
      'DynamicRO',
      'The recommended pool properties for clients to respect for optimal performance. For example, max-vm-group=5',
      { default: {} },
    ),
    license_server: field(stringMap, 'RW', 'Licensing data shared within the whole pool', { default: {} }),
    ha_reboot_vm_on_internal_shutdown: field(
      t.bool,
      'RW',
      'Indicates whether an HA-protected VM that is shut down from inside (not through the API) should be automatically rebooted when HA is enabled',
      { default: true },
    ),
    limit_console_sessions: field(
      t.bool,
      'RW',
      "When true, only one console connection per VM/host in the pool is accepted. Otherwise every connection for a VM/host's console is accepted. Note: when true, connection attempts via websocket will be rejected.",
      { default: false },
    ),
    vm_console_idle_timeout: field(
      t.int,
      'RW',
      "The maximum time (in seconds) that a VM's console can be idle before it is automatically disconnected. The default value 0 means never timeout. This setting applies only to VM consoles; for host consoles, use the separate parameter 'host.console_idle_timeout'.",
      { default: 0 },
    ),
    auto_update_vm_secureboot_certificates: field(
      t.bool,
      'RW',
      "When true, at VM.create time the pool automatically marks a newly created VM whose Secure Boot certificates are due to expire by setting VM.secureboot_certificates_state to update_on_boot (the same effect as VM.update_secureboot_certificates_on_boot), so the certificates are updated on the VM's next boot. This applies to VMs created by VM.create, including those created by operations that internally call it: the HTTP(s) PUT /import and /import_metadata calls and disaster recovery (VM.recover and VM_appliance.recover); it does not apply to VM.clone or VM.copy, which inherit the source VM's state.",
      { default: false },
    ),
    // Poolstack additions (docs/replication.md): not in xapi's datamodel; clients ignore them.
    epoch: field(
      t.int,
      'DynamicRO',
      'The pool epoch: raised by every change of coordinator; requests from an older epoch are refused',
      { default: 0 },
    ),
    replication_mode: field(
      replicationMode,
      'RW',
      'How many hosts must hold a write before it is acknowledged: majority (default), all, or async (the coordinator alone)',
      { default: 'majority' },
    ),
    replication_degraded: field(
      t.bool,
      'DynamicRO',
      'True while a two-host pool acknowledges writes on the coordinator alone because the other host is down',
      { default: false, persist: false },
    ),
  },
  messages: {
    join: message({
      params: joinParams,
      result: t.void,
      doc: 'Instruct host to join a new pool',
      errors: [
        'JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS',
        'JOINING_HOST_CANNOT_HAVE_RUNNING_VMS',
        'JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS',
        'HOSTS_NOT_HOMOGENEOUS',
        'JOINING_HOST_CONNECTION_FAILED',
      ],
      roles: 'pool-operator',
      secret: true,
      async: true,
    }),
    join_force: message({
      params: joinParams,
      result: t.void,
      doc: 'Instruct host to join a new pool',
      errors: ['JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS', 'JOINING_HOST_CANNOT_HAVE_RUNNING_VMS'],
      roles: 'pool-operator',
      secret: true,
      async: true,
    }),
    eject: message({
      params: [param('host', t.ref('host'), 'The host to eject')],
      result: t.void,
      doc: 'Instruct a pool master to eject a host from the pool',
      errors: ['OPERATION_NOT_ALLOWED', 'HOST_CANNOT_DESTROY_SELF'],
      roles: 'pool-operator',
      async: true,
    }),
    emergency_transition_to_master: message({
      params: [
        // Poolstack addition: xapi's call has no parameters (a client that sends none gets false).
        param(
          'force',
          t.bool,
          'Skip the safety checks (master not answering, majority reachable, no reachable host newer)',
          { default: false },
        ),
      ],
      result: t.void,
      doc: "Instruct host that's currently a slave to transition to being master",
      errors: ['MASTER_STILL_ANSWERS', 'HOST_HOLDS_NEWER_DATABASE', 'POOL_QUORUM_UNREACHABLE'],
      roles: 'pool-operator',
    }),
    emergency_reset_master: message({
      params: [param('master_address', t.string, 'The hostname of the master')],
      result: t.void,
      doc: 'Instruct a slave already in a pool that the master has changed',
      roles: 'pool-operator',
    }),
    recover_slaves: message({
      params: [],
      result: t.set(t.ref('host')),
      doc: 'Instruct a pool master, M, to try and contact its slaves and, if slaves are in emergency mode, reset their master address to M.',
      roles: 'pool-operator',
      async: true,
    }),
    designate_new_master: message({
      params: [param('host', t.ref('host'), 'The host who should become the new master of the pool')],
      result: t.void,
      doc: 'Perform an orderly handover of the role of master to the referenced host.',
      errors: ['HOST_OFFLINE', 'HA_ABORT_NEW_MASTER'],
      roles: 'pool-operator',
      async: true,
    }),
    sync_database: message({
      params: [],
      result: t.void,
      doc: 'Forcibly synchronise the database now',
      roles: 'pool-operator',
      async: true,
    }),
    initial_auth: message({
      params: [],
      result: t.string,
      doc: 'Internal use only',
      roles: 'pool-operator',
      secret: true,
    }),
  },
});
