// What the parts of the pool coordinator (coordinator.ts, member-link.ts, master-streams.ts)
// share: its configuration, the local keys it keeps, what a host says about itself, and the
// position in the pool's history this host holds; and how a peer's refusal reads here.
import type { RowChange } from '../db/db.js';
import { ApiError, errors, type ErrorCode } from '../model/errors.js';
import type { LivenessConfig } from './liveness.js';
import type { PeerError } from './peer.js';
import type { EpochStart } from './replication.js';

export interface LocalKeys {
  get(key: string): string | undefined;
  put(key: string, value: string): void;
}

export interface CoordinatorConfig extends LivenessConfig {
  /** How long a write waits for its quorum before the caller is told it is not confirmed. */
  readonly ackTimeoutMs: number;
  /** How long one peer request may take (status probes, votes, follow). */
  readonly peerTimeoutMs: number;
  /** Entries kept in memory for members that reconnect (older ones get a snapshot). */
  readonly logMax: number;
}

export const defaultCoordinatorConfig: CoordinatorConfig = {
  heartbeatIntervalMs: 2000,
  deadAfterMs: 15000,
  ackTimeoutMs: 30000,
  peerTimeoutMs: 3000,
  logMax: 10000,
};

/** What a host agent answers: the driver's result, or the driver's error (kind, code, message). */
export type AgentResult =
  { ok: true; value: unknown } | { ok: false; kind: string; code: string; message: string };

/** What a host says about itself (peer op `status`). */
export interface HostStatus {
  readonly host: string;
  readonly uuid: string;
  readonly role: 'master' | 'member';
  /** The epoch this host follows (raised by votes and by its master's entries). */
  readonly epoch: number;
  /** The epoch and generation of the last entry it holds. */
  readonly dataEpoch: number;
  readonly gen: number;
  /** The master it follows (its own address when master). */
  readonly master: string;
}

export type Changes = readonly RowChange[];

export const K = {
  role: 'pool_role',
  master: 'pool_master',
  secret: 'pool_secret',
  epoch: 'pool_epoch',
  appliedEpoch: 'applied_epoch',
  starts: 'epoch_starts',
  /** Hosts left out of the quorum until they stream again (forced promotion, restore). */
  leftOut: 'pool_left_out',
} as const;

/**
 * Where this host stands in the pool's history: one object, shared by the coordinator (role
 * changes) and the member's link to its master (entries and snapshots move it forward).
 */
export interface PoolPosition {
  /** The epoch this host follows. */
  epoch: number;
  /** Where each epoch of the history this host holds began. */
  starts: EpochStart[];
  /** The address of the master this host follows (its own when master). */
  masterAddr: string;
}

/** Local keys written atomically with each applied entry or snapshot. */
export function positionMeta(pos: PoolPosition, dataEpoch: number): Record<string, string> {
  return {
    [K.epoch]: String(pos.epoch),
    [K.appliedEpoch]: String(dataEpoch),
    [K.starts]: JSON.stringify(pos.starts),
    [K.master]: pos.masterAddr,
  };
}

/** A refusal a peer answered with, as the same XenAPI error here. */
export function fromPeer(e: PeerError): ApiError {
  const code = e.code !== undefined && e.code in errors ? (e.code as ErrorCode) : 'INTERNAL_ERROR';
  return new ApiError(
    code,
    code === 'INTERNAL_ERROR' && e.code !== 'INTERNAL_ERROR' ? [e.message] : e.params,
  );
}
