// Every XenAPI error this product can return: wire code, parameter names in order, and the doc
// line that xe prints. Declared once; `docs/api/errors.md` and xe's messages are derived from it.

export interface ErrorDef {
  readonly params: readonly string[];
  readonly doc: string;
}

function e(params: readonly string[], doc: string): ErrorDef {
  return { params, doc };
}

export const errors = {
  INTERNAL_ERROR: e(['message'], 'The server failed to handle your request, due to an internal error.'),
  MESSAGE_METHOD_UNKNOWN: e(['method'], 'You tried to call a method that does not exist.'),
  MESSAGE_PARAMETER_COUNT_MISMATCH: e(
    ['method', 'expected', 'received'],
    'You tried to call a method with the incorrect number of parameters.',
  ),
  FIELD_TYPE_ERROR: e(['field'], 'The value specified is of the wrong type.'),
  INVALID_VALUE: e(['field', 'value'], 'The value given is invalid.'),
  HANDLE_INVALID: e(
    ['class', 'handle'],
    'You gave an invalid object reference. The object may have recently been deleted.',
  ),
  UUID_INVALID: e(['type', 'uuid'], 'The uuid you supplied was invalid.'),
  MAP_DUPLICATE_KEY: e(
    ['type', 'param_name', 'uuid', 'key'],
    'You tried to add a key-value pair to a map, but that key is already there.',
  ),
  SESSION_AUTHENTICATION_FAILED: e(['uname', 'msg'], 'The credentials given by the user are incorrect.'),
  SESSION_INVALID: e(
    ['handle'],
    'You gave an invalid session reference. It may have been invalidated by a server restart, or timed out.',
  ),
  SESSION_NOT_REGISTERED: e(
    ['handle'],
    'This session is not registered to receive events. You must call event.register before event.next.',
  ),
  RBAC_PERMISSION_DENIED: e(['permission', 'message'], 'RBAC permission denied.'),
  EVENTS_LOST: e([], 'Some events have been lost from the queue and cannot be retrieved.'),
  EVENT_FROM_TOKEN_PARSE_FAILURE: e(
    ['token'],
    "The event.from token could not be parsed. Valid values include: '', and a value returned from a previous event.from call.",
  ),
  EVENT_SUBSCRIPTION_PARSE_FAILURE: e(
    ['subscription'],
    'The server failed to parse your event subscription. Valid values include: *, class-name, class-name/object-reference.',
  ),
  TOO_MANY_PENDING_TASKS: e(
    [],
    'The request was rejected because there are too many pending tasks on the server.',
  ),
  TASK_CANCELLED: e(['task'], 'The request was asynchronously canceled.'),
  OPERATION_NOT_ALLOWED: e(['reason'], 'You attempted an operation that was not allowed.'),
  OPERATION_BLOCKED: e(
    ['ref', 'code'],
    'You attempted an operation that was explicitly blocked (see the blocked_operations field of the given object).',
  ),
  OTHER_OPERATION_IN_PROGRESS: e(
    ['class', 'object', 'operation_type', 'operation_ref'],
    'Another operation involving the object is currently in progress',
  ),
  VM_BAD_POWER_STATE: e(
    ['vm', 'expected', 'actual'],
    "You attempted an operation on a VM that was not in an appropriate power state at the time; for example, you attempted to start a VM that was already running. The parameters returned are the VM's handle, and the expected and actual VM state at the time of the call.",
  ),
  VM_IS_TEMPLATE: e(['vm'], 'The operation attempted is not valid for a template VM'),
  VM_NO_EMPTY_CD_VBD: e(['vm'], 'The VM has no empty CD drive (VBD).'),
  VM_HAS_VBDS: e(['vm'], 'The VM still has attached disks.'),
  VM_REQUIRES_SR: e(
    ['vm', 'sr'],
    "You attempted to run a VM on a host which doesn't have access to an SR needed by the VM. The VM has at least one VBD attached to a VDI in the SR.",
  ),
  VM_MISSING_PV_DRIVERS: e(
    ['vm'],
    'You attempted an operation on a VM which requires PV drivers to be installed but the drivers were not detected.',
  ),
  CANNOT_RESET_CONTROL_DOMAIN: e(['vm'], 'The power-state of a control domain cannot be reset.'),
  DOMAIN_EXISTS: e(
    ['vm', 'domid'],
    'The operation could not be performed because a domain still exists for the specified VM.',
  ),
  HOST_NOT_ENOUGH_FREE_MEMORY: e(
    ['needed', 'available'],
    'Not enough server memory is available to perform this operation.',
  ),
  HOST_NOT_LIVE: e([], 'This operation cannot be completed as the host is not live.'),
  HOST_DISABLED: e(['host'], 'The specified server is disabled.'),
  HOST_IS_LIVE: e(['host'], 'This operation cannot be completed as the host is still live.'),
  HOST_IS_SLAVE: e(
    ['master'],
    'You cannot make regular API calls directly on a supporter. Please pass API calls via the coordinator host.',
  ),
  HOST_STILL_BOOTING: e(
    [],
    'The host failed to acquire an IP address on its management interface and therefore cannot contact the coordinator.',
  ),
  HOST_HAS_RESIDENT_VMS: e(
    ['host'],
    'This server cannot be forgotten because there are some user VMs still running',
  ),
  HOST_CANNOT_DESTROY_SELF: e(['host'], 'The pool coordinator host cannot be removed.'),
  HOST_OFFLINE: e(['host'], 'You attempted an operation which involves a host which could not be contacted.'),
  CANNOT_CONTACT_HOST: e(
    ['host'],
    'Cannot forward messages because the server cannot be contacted. The server may be switched off or there may be network connectivity problems.',
  ),
  HOST_UNKNOWN_TO_MASTER: e(
    ['host'],
    "The coordinator says the server is not known to it. Is the server in the coordinator's database and pointing to the correct coordinator? Are all servers using the same pool secret?",
  ),
  HOST_ITS_OWN_SLAVE: e(
    [],
    'The host is its own supporter. Please use pool-emergency-transition-to-master or pool-emergency-reset-master.',
  ),
  HA_ABORT_NEW_MASTER: e(
    ['reason'],
    'This host cannot accept the proposed new coordinator setting at this time.',
  ),
  JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS: e(
    [],
    'The server joining the pool cannot contain any shared storage.',
  ),
  JOINING_HOST_CANNOT_HAVE_RUNNING_VMS: e(
    [],
    'The server joining the pool cannot have any running or suspended VMs.',
  ),
  JOINING_HOST_CANNOT_HAVE_VMS_WITH_CURRENT_OPERATIONS: e(
    [],
    'The server joining the pool cannot have any VMs with active tasks.',
  ),
  JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS: e(
    [],
    'The server joining the pool cannot already be a coordinator of another pool.',
  ),
  JOINING_HOST_CONNECTION_FAILED: e(
    [],
    'There was an error connecting to the server while joining it in the pool.',
  ),
  JOINING_HOST_SERVICE_FAILED: e(
    [],
    "There was an error connecting to the server. The service contacted didn't reply properly.",
  ),
  HOSTS_NOT_HOMOGENEOUS: e(['reason'], 'The hosts in this pool are not homogeneous.'),
  HOSTS_NOT_COMPATIBLE: e([], 'The hosts in this pool are not compatible.'),
  POOL_JOINING_HOST_MUST_HAVE_SAME_API_VERSION: e(
    ['host_api_version', 'pool_api_version'],
    'The host joining the pool must have the same API version as the pool coordinator.',
  ),
  // Poolstack's own (docs/replication.md): refusals that keep acknowledged writes safe.
  MASTER_STILL_ANSWERS: e(
    ['master'],
    'The pool coordinator still answers, so an emergency transition would give the pool two coordinators. Use pool-designate-new-master, or --force if you are sure.',
  ),
  HOST_HOLDS_NEWER_DATABASE: e(
    ['host', 'epoch', 'generation'],
    'Another reachable host holds a newer copy of the pool database. Promote that host instead, or use --force to accept losing the writes only it holds.',
  ),
  POOL_QUORUM_UNREACHABLE: e(
    ['needed', 'reachable'],
    'Too few hosts of the pool can be reached to keep acknowledged writes safe. Bring hosts back or forget the dead ones (host-forget); an emergency transition can be forced (--force), accepting the loss of writes only the missing hosts hold.',
  ),
  POOL_WRITE_NOT_CONFIRMED: e(
    ['mode', 'needed', 'holding'],
    'Too few hosts of the pool hold this write for it to be acknowledged; it may not survive a change of coordinator. Check that the pool members are running and reachable.',
  ),
  POOL_EPOCH_STALE: e(
    ['epoch', 'current'],
    'The request comes from an older pool epoch: its sender is no longer the pool coordinator.',
  ),
  HOST_NOT_DISABLED: e([], 'This operation cannot be performed because the host is not disabled.'),
  HOST_IN_USE: e(
    ['host', 'type', 'ref'],
    'This operation cannot be completed as the host is in use by (at least) the object of type and ref echoed below.',
  ),
  SR_HAS_PBD: e(
    ['sr'],
    'The SR is still connected to a host via a PBD. It cannot be destroyed or forgotten.',
  ),
  NO_HOSTS_AVAILABLE: e([], 'There were no servers available to complete the specified operation.'),
  SR_FULL: e(['requested', 'maximum'], 'The SR is full. Requested new size exceeds the maximum size'),
  SR_HAS_NO_PBDS: e(['sr'], 'The SR has no attached PBDs'),
  SR_NOT_EMPTY: e([], 'The SR operation cannot be performed because the SR is not empty.'),
  VDI_LEASE_HELD: e(
    ['vdi', 'host', 'expires_in_seconds'],
    'Another host holds the read-write lease on this VDI. If that host has stopped renewing it, the lease expires in the given number of seconds (-1: the host is renewing it); until then no other host may attach the VDI read-write.',
  ),
  VDI_LEASE_UNAVAILABLE: e(
    ['vdi', 'reason'],
    'The lease on this VDI could not be read or written on its SR, so the VDI was not attached.',
  ),
  VDI_IN_USE: e(
    ['vdi', 'operation'],
    'This operation cannot be performed because this VDI is in use by some other operation',
  ),
  VDI_MISSING: e(
    ['sr', 'vdi'],
    'This operation cannot be performed because the specified VDI could not be found on the storage substrate',
  ),
  VBD_NOT_EMPTY: e(['vbd'], 'Operation could not be performed because the drive is not empty'),
  VBD_IS_EMPTY: e(['vbd'], 'Operation could not be performed because the drive is empty'),
  VBD_NOT_REMOVABLE_MEDIA: e(['vbd'], 'Media could not be ejected because it is not removable'),
  DEVICE_ALREADY_ATTACHED: e(['device'], 'The device is already attached to a VM'),
  DEVICE_ALREADY_DETACHED: e(['device'], 'The device is not currently attached'),
  DEVICE_ALREADY_EXISTS: e(['device'], 'A device with the name given already exists on the selected VM'),
  INVALID_DEVICE: e(['device'], 'The device name is invalid'),
  MAC_INVALID: e(['MAC'], 'The MAC address specified is not valid.'),
  MEMORY_CONSTRAINT_VIOLATION: e(
    ['constraint'],
    'The dynamic memory range does not satisfy the following constraint.',
  ),
  PROVISION_FAILED_OUT_OF_SPACE: e([], 'The provision call failed because it ran out of space.'),
  PROVISION_ONLY_ALLOWED_ON_TEMPLATE: e(
    [],
    'The provision call can only be invoked on templates, not regular VMs.',
  ),
  SR_NOT_SHARED: e(['sr'], 'The SR is not shared.'),
  LICENCE_RESTRICTION: e(
    ['feature'],
    'This operation is not allowed because your license lacks a needed feature.',
  ),
  CANNOT_DESTROY_SYSTEM_NETWORK: e(
    ['network'],
    'You tried to destroy a system network: these cannot be destroyed.',
  ),
  NETWORK_CONTAINS_VIF: e(['vifs'], 'The network contains active VIFs and cannot be deleted.'),
  NETWORK_CONTAINS_PIF: e(['pifs'], 'The network contains active PIFs and cannot be deleted.'),
  VM_HVM_REQUIRED: e(['vm'], 'HVM is required for this operation'),
  BOOTLOADER_FAILED: e(['vm', 'msg'], 'The bootloader returned an error'),
  UNKNOWN_BOOTLOADER: e(['vm', 'bootloader'], 'The requested bootloader is unknown'),
  DEVICE_DETACH_REJECTED: e(['type', 'ref', 'msg'], 'The VM rejected the attempt to detach the device.'),
  VDI_READONLY: e(['vdi'], 'The operation required write access but this VDI is read-only'),
  VDI_TOO_SMALL: e(
    ['vdi', 'minimum size'],
    'The VDI is too small. Please resize it to at least the minimum size.',
  ),
  VDI_NOT_SPARSE: e(
    ['vdi'],
    "The VDI is not stored using a sparse format. It is not possible to query and manipulate only the changed blocks (or 'block differences' or 'disk deltas') between two VDIs. Please select a VDI which uses a sparse-aware technology such as VHD.",
  ),
  SR_UNKNOWN_DRIVER: e(['driver'], 'The SR could not be connected because the driver was not recognised.'),
  PBD_EXISTS: e(['sr', 'host', 'pbd'], 'A PBD already exists connecting the SR to this host.'),
  RESTORE_INCOMPATIBLE_VERSION: e(
    [],
    'The restore could not be performed because this backup has been created by a different (incompatible) product version',
  ),
  RESTORE_INVALID_BACKUP: e(
    ['reason'],
    'The restore could not be performed because the file is not a complete, intact Poolstack pool database dump. Nothing was changed.',
  ),
  SR_BACKEND_FAILURE: e(['status', 'stdout', 'stderr'], 'There was an SR backend failure.'),
} as const satisfies Record<string, ErrorDef>;

export type ErrorCode = keyof typeof errors;

/**
 * An expected failure with a XenAPI code. Serialises to `[code, ...params]` on the wire.
 * Programmer errors use `assert` instead and surface as INTERNAL_ERROR.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: ErrorCode,
    readonly params: readonly string[] = [],
  ) {
    super(`${code}(${params.join(', ')})`);
  }
}

/** Typed constructor: the arguments are the code's declared parameters, in order. */
export function apiError(code: ErrorCode, ...params: (string | number)[]): ApiError {
  // A mismatch is a bug in the caller, caught by any test that reaches it.
  if (params.length !== errors[code].params.length) {
    throw new Error(
      `apiError(${code}): ${params.length} params given, ${errors[code].params.length} declared`,
    );
  }
  return new ApiError(
    code,
    params.map((p) => String(p)),
  );
}
