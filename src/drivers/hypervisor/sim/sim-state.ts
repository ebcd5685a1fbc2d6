// The sim driver's on-disk formats: the domain table (`domains.json`) that lets domains outlive
// the daemon, and suspend images. Both are parsed field by field, because they are read back after
// crashes and restarts and must never be trusted blindly.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { errnoCode } from '../../durable-fs.js';
import { DriverError, type DiskSpec, type DomainInfo, type DomainState, type NicSpec } from '../driver.js';

export const STATE_VERSION = 1;
/** First line of a suspend image, so a random file (or another driver's image) is never resumed. */
const IMAGE_MAGIC = 'POOLSTACK-SIM-SUSPEND-IMAGE/1\n';
/** A genuine image is a few hundred bytes; anything much larger is not ours and is not read whole. */
const IMAGE_BYTES_MAX = 64 * 1024;
/** dom0 is domid 0, so guests start at 1, as on Xen. */
const FIRST_GUEST_DOMID = 1;

/** What is persisted per domain: its info plus the spec it was built from (for reboot). */
export interface DomainRecord extends Omit<DomainInfo, 'leases'> {
  name: string;
  disks: DiskSpec[];
  nics: NicSpec[];
}

/**
 * A domain whose watchdog time has passed is gone, whether or not the daemon that owns it is
 * running (a frozen daemon's domains stop on time): every reader of the table applies this rule.
 */
export function isAlive(d: Pick<DomainRecord, 'watchdogAtMs'>, nowMs: number): boolean {
  return d.watchdogAtMs === undefined || nowMs < d.watchdogAtMs;
}

/** The domains of a sim host's table that are alive at `nowMs` (tests watch hosts with this). */
export function aliveDomains(statePath: string, nowMs: number): DomainRecord[] {
  return loadState(statePath).domains.filter((d) => isAlive(d, nowMs));
}

export interface StateFile {
  version: number;
  /** Persisted so a domid is never reused, even for a domain destroyed before a restart. */
  nextDomid: number;
  domains: DomainRecord[];
}

export interface SuspendImage {
  uuid: string;
  memoryBytes: number;
  vcpus: number;
  state: DomainState;
  suspendedAtMs: number;
}

export function encodeState(state: StateFile): string {
  return JSON.stringify(state, null, 2) + '\n';
}

export function encodeImage(image: SuspendImage): string {
  return IMAGE_MAGIC + JSON.stringify(image) + '\n';
}

export function loadState(statePath: string): StateFile {
  let text: string;
  try {
    text = fs.readFileSync(statePath, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT')
      return { version: STATE_VERSION, nextDomid: FIRST_GUEST_DOMID, domains: [] };
    throw new DriverError('IO_ERROR', `cannot read ${statePath}: ${String(e)}`, { cause: e });
  }
  // The file is only ever replaced atomically, so a bad one means outside damage: refuse to start
  // rather than forget running domains (and later hand out their domids or boot them twice).
  try {
    const state = parseState(JSON.parse(text));
    const uuids = new Set(state.domains.map((d) => d.uuid));
    const domids = new Set(state.domains.map((d) => d.domid));
    if (uuids.size !== state.domains.length || domids.size !== state.domains.length) {
      throw new Error('duplicate uuid or domid');
    }
    const highest = Math.max(FIRST_GUEST_DOMID - 1, ...domids);
    if (state.nextDomid <= highest)
      throw new Error(`nextDomid ${state.nextDomid} <= domid in use ${highest}`);
    return state;
  } catch (e) {
    throw new DriverError('IO_ERROR', `corrupt ${statePath}: ${String(e)}`, { cause: e });
  }
}

type Json = Record<string, unknown>;

function isObject(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function field<T>(o: Json, key: string, ok: (v: unknown) => v is T): T {
  const v = o[key];
  if (!ok(v)) throw new Error(`field ${key} is invalid`);
  return v;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isState = (v: unknown): v is DomainState => v === 'running' || v === 'paused';
const isArray = (v: unknown): v is unknown[] => Array.isArray(v);
const isMode = (v: unknown): v is DiskSpec['mode'] => v === 'RW' || v === 'RO';
const isDiskType = (v: unknown): v is DiskSpec['type'] => v === 'Disk' || v === 'CD';

function parseState(x: unknown): StateFile {
  if (!isObject(x)) throw new Error('not an object');
  const version = field(x, 'version', isCount);
  if (version !== STATE_VERSION) throw new Error(`unsupported version ${version}`);
  return {
    version,
    nextDomid: field(x, 'nextDomid', isCount),
    domains: field(x, 'domains', isArray).map(parseDomain),
  };
}

function parseDomain(x: unknown): DomainRecord {
  if (!isObject(x)) throw new Error('domain is not an object');
  return {
    uuid: field(x, 'uuid', isString),
    domid: field(x, 'domid', isCount),
    state: field(x, 'state', isState),
    memoryBytes: field(x, 'memoryBytes', isCount),
    vcpus: field(x, 'vcpus', isCount),
    startedAtMs: field(x, 'startedAtMs', isTime),
    ...(x.watchdogAtMs === undefined ? {} : { watchdogAtMs: field(x, 'watchdogAtMs', isTime) }),
    name: field(x, 'name', isString),
    disks: field(x, 'disks', isArray).map((d) => {
      if (!isObject(d)) throw new Error('disk is not an object');
      return {
        device: field(d, 'device', isString),
        path: field(d, 'path', isString),
        mode: field(d, 'mode', isMode),
        type: field(d, 'type', isDiskType),
        ...(d.lease === undefined ? {} : { lease: parseLeaseRef(d.lease) }),
      };
    }),
    nics: field(x, 'nics', isArray).map((n) => {
      if (!isObject(n)) throw new Error('nic is not an object');
      return {
        device: field(n, 'device', isString),
        mac: field(n, 'mac', isString),
        bridge: field(n, 'bridge', isString),
      };
    }),
  };
}

function parseLeaseRef(x: unknown): { sr: string; vdi: string } {
  if (!isObject(x)) throw new Error('disk lease is not an object');
  return { sr: field(x, 'sr', isString), vdi: field(x, 'vdi', isString) };
}

export async function readImage(imagePath: string): Promise<SuspendImage> {
  let text: string;
  try {
    const handle = await fsp.open(imagePath, 'r');
    try {
      const buf = Buffer.alloc(IMAGE_BYTES_MAX + 1);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      if (bytesRead > IMAGE_BYTES_MAX) throw new Error('too large');
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (e) {
    throw new DriverError('IO_ERROR', `cannot read suspend image ${imagePath}: ${String(e)}`, { cause: e });
  }
  try {
    if (!text.startsWith(IMAGE_MAGIC)) throw new Error('bad magic');
    const x: unknown = JSON.parse(text.slice(IMAGE_MAGIC.length));
    if (!isObject(x)) throw new Error('not an object');
    return {
      uuid: field(x, 'uuid', isString),
      memoryBytes: field(x, 'memoryBytes', isCount),
      vcpus: field(x, 'vcpus', isCount),
      state: field(x, 'state', isState),
      suspendedAtMs: field(x, 'suspendedAtMs', isTime),
    };
  } catch (e) {
    throw new DriverError('IO_ERROR', `invalid suspend image ${imagePath}: ${String(e)}`, { cause: e });
  }
}
