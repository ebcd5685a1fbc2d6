// What every implementation receives: long-lived services plus the identity of this one call.
// Mirrors xapi's `~__context`; nothing in impl/ reaches for globals.
import type { Clock, Random } from '../base/clock.js';
import type { Logger } from '../base/log.js';
import type { PoolCoordinator } from '../cluster/coordinator.js';
import type { Db } from '../db/db.js';
import type { HypervisorDriver } from '../drivers/hypervisor/driver.js';
import type { StorageDriver } from '../drivers/storage/driver.js';

export interface Services {
  readonly db: Db;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  /** Who called what: every call that is not a read, with secret parameters redacted. */
  readonly audit: Logger;
  /** The host this daemon runs on. */
  readonly hostRef: string;
  readonly hypervisor: HypervisorDriver;
  /** Storage drivers of the SRs this host has attached, by SR ref. */
  readonly storage: Map<string, StorageDriver>;
  readonly auth: Authenticator;
  readonly config: ServiceConfig;
  /** Aborts in-flight asynchronous work by task ref (task.cancel). */
  readonly taskAborts: Map<string, AbortController>;
  /** SR types this host can open, and the factory that opens one from its PBD's device_config. */
  readonly storageTypes: readonly string[];
  openStorage(type: string, deviceConfig: Record<string, string>): StorageDriver;
  /** Host-local settings that are not pool data (xapi's local.db). */
  readonly localState: LocalState;
  /** Stops or restarts this host's daemon after the current reply is sent. */
  readonly power: HostPower;
  /** Changes of this host's identity in the pool that the daemon carries out. */
  readonly lifecycle: HostLifecycle;
  /** This host's pool role: replication, master changes, the other hosts. */
  readonly cluster: PoolCoordinator;
  /** This host's TLS certificate (PEM), as the pool's hosts pin it. */
  readonly certificate: string;
}

export interface LocalState {
  get(key: string): string | undefined;
  put(key: string, value: string): void;
}

export interface HostLifecycle {
  /**
   * After a pool database restore: this host is now `hostRef` of the restored pool and its master
   * at an epoch above `minEpoch`; `awaitingRejoin` are the other hosts, kept out of the quorum
   * until they reconnect. Re-attaches this host's storage and checks the pool's default SR.
   */
  becomeRestoredMaster(hostRef: string, awaitingRejoin: readonly string[], minEpoch: number): Promise<void>;
}

export interface HostPower {
  shutdown(): void;
  reboot(): void;
}

export interface ServiceConfig {
  readonly authFailureDelayMs: number;
  readonly sessionIdleMs: number;
  readonly sessionsPerUserMax: number;
}

export interface Authenticator {
  /** True when `password` is the stored secret of `user`. */
  verify(user: string, password: string): Promise<boolean>;
}

export interface Ctx {
  readonly svc: Services;
  /** The caller's session ref ('' for sessionless calls such as login). */
  readonly session: string;
  /** The task this call runs under when it came in as Async.*, else undefined. */
  readonly task: string | undefined;
  /** Names this call in current_operations: the task ref, or a fresh ref for a synchronous call. */
  readonly opRef: string;
  readonly signal: AbortSignal;
  /** Protocol the call came in on; task results are always XML-RPC fragments regardless. */
  readonly log: Logger;
}
