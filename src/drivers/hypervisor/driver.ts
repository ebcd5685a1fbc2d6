// The hypervisor driver interface, grouped like xenopsd's plugin `module type S` (HOST, VM, …) so
// the host agent can run the same code against the simulator or a real hypervisor. Drivers must
// tolerate a daemon restart with domains still running: `vm.list()` after a restart re-discovers them.

export interface HostInfo {
  hostname: string;
  cpuCount: number;
  cpuVendor: string;
  cpuModel: string;
  cpuSpeedMhz: number;
  memoryTotalBytes: number;
  /** Memory the control domain (dom0) uses; never available to guests. */
  dom0MemoryBytes: number;
}

export interface DiskSpec {
  /** Guest device name, e.g. `xvda` (VBD.device). */
  device: string;
  /** Path of the backing file (StorageDriver.vdiPath) or ISO. */
  path: string;
  mode: 'RW' | 'RO';
  type: 'Disk' | 'CD';
  /**
   * For a disk attached read-write and not sharable: the SR (ref) and VDI (uuid) whose lease the
   * host must hold while the domain runs (docs/storage.md).
   */
  lease?: { sr: string; vdi: string };
}

export interface NicSpec {
  /** Guest device index as a string, e.g. `0` (VIF.device). */
  device: string;
  mac: string;
  bridge: string;
}

/** Everything needed to build a domain; derived from the VM record by the caller. */
export interface DomainSpec {
  /** The VM's uuid; a domain is identified by it across reboots and daemon restarts. */
  uuid: string;
  name: string;
  memoryBytes: number;
  vcpus: number;
  disks: DiskSpec[];
  nics: NicSpec[];
}

export type DomainState = 'running' | 'paused';

export interface DomainInfo {
  uuid: string;
  /** Changes on every boot (create, reboot, resume); never reused on one host. */
  domid: number;
  state: DomainState;
  memoryBytes: number;
  vcpus: number;
  /** Clock.now() when this domid was booted (VM_metrics.start_time). */
  startedAtMs: number;
  /** The disks whose leases the domain needs (DiskSpec.lease), for a restarted daemon. */
  leases?: Array<{ sr: string; vdi: string }>;
  /** When the domain's watchdog destroys it unless re-armed (Clock.now() ms); none if unarmed. */
  watchdogAtMs?: number;
}

export interface BootOptions {
  paused: boolean;
  /**
   * Arms the domain's watchdog at creation: the domain is destroyed at this time (Clock.now() ms)
   * unless `arm` moves it later. It stands for the host watchdog that disk-lease systems rely on
   * (sanlock's wdmd): it fires even when the toolstack is frozen.
   */
  watchdogAtMs?: number;
}

export interface HypervisorHostOps {
  info(): Promise<HostInfo>;
}

export interface HypervisorVmOps {
  list(): Promise<DomainInfo[]>;
  get(uuid: string): Promise<DomainInfo | undefined>;
  /** Builds and boots a domain. DOMAIN_EXISTS if a domain with this uuid is present. */
  create(spec: DomainSpec, opts: BootOptions): Promise<DomainInfo>;
  /** BAD_STATE unless running. */
  pause(uuid: string): Promise<DomainInfo>;
  /** BAD_STATE unless paused. */
  unpause(uuid: string): Promise<DomainInfo>;
  /** The domain is gone afterwards. A clean shutdown needs guest cooperation, so only from running. */
  shutdown(uuid: string, opts: { clean: boolean }): Promise<void>;
  /** Same uuid, new domid, running afterwards. Clean only from running. */
  reboot(uuid: string, opts: { clean: boolean }): Promise<DomainInfo>;
  /** Writes a memory image at imagePath, then the domain is gone. Only from running. */
  suspend(uuid: string, imagePath: string): Promise<void>;
  /** Reads and validates the image (IO_ERROR if bad or missing) and boots from it. */
  resume(spec: DomainSpec, imagePath: string, opts: BootOptions): Promise<DomainInfo>;
  /**
   * Moves the watchdogs of these domains (uuid → Clock.now() ms). Domains that are gone are
   * skipped; a domain whose watchdog already fired stays gone.
   */
  arm(deadlines: Record<string, number>): Promise<void>;
}

export interface HypervisorDriver {
  readonly name: string;
  readonly host: HypervisorHostOps;
  readonly vm: HypervisorVmOps;
  /** Waits for in-flight operations; domains keep running (they outlive the daemon). */
  close(): Promise<void>;
}

export type DriverErrorCode = 'DOMAIN_EXISTS' | 'NO_SUCH_DOMAIN' | 'BAD_STATE' | 'IO_ERROR';

/**
 * An expected failure of a driver operation. The agent maps `code` to a XenAPI error in one place;
 * `name` and `code` are plain fields so logs and tests can match on strings.
 */
export class DriverError extends Error {
  override readonly name = 'DriverError';

  constructor(
    readonly code: DriverErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isDriverError(e: unknown, code?: DriverErrorCode): e is DriverError {
  return e instanceof DriverError && (code === undefined || e.code === code);
}
