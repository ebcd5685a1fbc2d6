// The simulated hypervisor (after xenopsd's xenops_server_simulator): no guest runs, but domains
// live in a table persisted under stateDir, so they outlive the daemon exactly as real domains
// would, and a restarted daemon re-discovers them with their domids and start times.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assert } from '../../../base/assert.js';
import type { Clock } from '../../../base/clock.js';
import { writeFileAtomic } from '../../durable-fs.js';
import {
  DriverError,
  type DomainInfo,
  type DomainSpec,
  type DomainState,
  type HostInfo,
  type HypervisorDriver,
  type HypervisorHostOps,
  type HypervisorVmOps,
} from '../driver.js';
import {
  encodeImage,
  encodeState,
  isAlive,
  loadState,
  readImage,
  STATE_VERSION,
  type DomainRecord,
  type StateFile,
  type SuspendImage,
} from './sim-state.js';

const STATE_FILE = 'domains.json';
/**
 * Operations waiting in the queue. The agent bounds its own concurrency (limits.tasksPendingMax),
 * so reaching this is a bug in the caller. Belongs in base/limits.ts once that file is opened up.
 */
const SIM_OPS_QUEUED_MAX = 10_000;

const GiB = 1024 ** 3;

export type SimOp =
  | 'info'
  | 'list'
  | 'get'
  | 'create'
  | 'pause'
  | 'unpause'
  | 'shutdown'
  | 'reboot'
  | 'suspend'
  | 'resume'
  | 'arm';

export interface SimHypervisorOptions {
  stateDir: string;
  clock: Clock;
  hostInfo?: Partial<HostInfo>;
}

export class SimHypervisor implements HypervisorDriver {
  readonly name = 'sim';
  readonly host: HypervisorHostOps;
  readonly vm: HypervisorVmOps;

  private readonly statePath: string;
  private readonly clock: Clock;
  private readonly hostInfo: HostInfo;
  private domains: Map<string, DomainRecord>;
  private nextDomid: number;
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  private closed = false;
  private readonly failpoints = new Map<SimOp, DriverError[]>();

  constructor(opts: SimHypervisorOptions) {
    this.clock = opts.clock;
    this.statePath = path.join(opts.stateDir, STATE_FILE);
    this.hostInfo = {
      hostname: os.hostname(),
      cpuCount: 4,
      cpuVendor: 'GenuineIntel',
      cpuModel: 'Poolstack Simulated CPU',
      cpuSpeedMhz: 2400,
      memoryTotalBytes: 16 * GiB,
      dom0MemoryBytes: 1 * GiB,
      ...opts.hostInfo,
    };
    // Synchronous on purpose: the daemon must know which domains are running before it reports
    // anything, and a constructor cannot await.
    fs.mkdirSync(opts.stateDir, { recursive: true });
    const state = loadState(this.statePath);
    this.domains = new Map(state.domains.map((d) => [d.uuid, d]));
    this.nextDomid = state.nextDomid;

    this.host = { info: () => this.run('info', async () => ({ ...this.hostInfo })) };
    this.vm = {
      list: () =>
        this.run('list', async () =>
          [...this.alive().values()].map(toInfo).sort((a, b) => a.domid - b.domid),
        ),
      get: (uuid) => this.run('get', async () => maybeInfo(this.alive().get(uuid))),
      create: (spec, o) => this.run('create', () => this.boot(spec, o.paused, o.watchdogAtMs)),
      pause: (uuid) => this.run('pause', () => this.setState(uuid, 'running', 'paused')),
      unpause: (uuid) => this.run('unpause', () => this.setState(uuid, 'paused', 'running')),
      shutdown: (uuid, o) => this.run('shutdown', () => this.shutdown(uuid, o.clean)),
      reboot: (uuid, o) => this.run('reboot', () => this.reboot(uuid, o.clean)),
      suspend: (uuid, imagePath) => this.run('suspend', () => this.suspend(uuid, imagePath)),
      resume: (spec, imagePath, o) =>
        this.run('resume', () => this.resume(spec, imagePath, o.paused, o.watchdogAtMs)),
      arm: (deadlines) => this.run('arm', () => this.arm(deadlines)),
    };
  }

  /** Makes the next `op` fail with `error` before it changes anything (tests inject faults). */
  failNext(op: SimOp, error: DriverError): void {
    const list = this.failpoints.get(op) ?? [];
    list.push(error);
    this.failpoints.set(op, list);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.tail;
  }

  /**
   * Runs operations one at a time in call order, so no two read-modify-write cycles of the table
   * (and of domains.json) ever interleave.
   */
  private run<T>(op: SimOp, fn: () => Promise<T>): Promise<T> {
    assert(!this.closed, 'SimHypervisor used after close()');
    assert(this.queued < SIM_OPS_QUEUED_MAX, 'SimHypervisor operation queue overflow');
    this.queued++;
    const result = this.tail.then(() => {
      const injected = this.failpoints.get(op)?.shift();
      if (injected !== undefined) throw injected;
      return fn();
    });
    this.tail = result.then(
      () => {
        this.queued--;
      },
      () => {
        this.queued--;
      },
    );
    return result;
  }

  /** The domains whose watchdog has not fired; the table forgets the others at its next write. */
  private alive(): Map<string, DomainRecord> {
    const now = this.clock.now();
    for (const [uuid, d] of this.domains) if (!isAlive(d, now)) this.domains.delete(uuid);
    return this.domains;
  }

  private async arm(deadlines: Record<string, number>): Promise<void> {
    const live = this.alive();
    const changed = Object.entries(deadlines).filter(([uuid]) => live.has(uuid));
    if (changed.length === 0) return;
    await this.commit((t) => {
      for (const [uuid, at] of changed) t.set(uuid, { ...(t.get(uuid) as DomainRecord), watchdogAtMs: at });
    });
  }

  private async boot(spec: DomainSpec, paused: boolean, watchdogAtMs?: number): Promise<DomainInfo> {
    checkSpec(spec);
    if (this.alive().has(spec.uuid))
      throw new DriverError('DOMAIN_EXISTS', `domain ${spec.uuid} already exists`);
    const record: DomainRecord = {
      uuid: spec.uuid,
      domid: this.nextDomid,
      state: paused ? 'paused' : 'running',
      memoryBytes: spec.memoryBytes,
      vcpus: spec.vcpus,
      startedAtMs: this.clock.now(),
      ...(watchdogAtMs === undefined ? {} : { watchdogAtMs }),
      name: spec.name,
      disks: spec.disks.map((d) => ({ ...d })),
      nics: spec.nics.map((n) => ({ ...n })),
    };
    await this.commit((t) => t.set(record.uuid, record), this.nextDomid + 1);
    return toInfo(record);
  }

  private async setState(uuid: string, from: DomainState, to: DomainState): Promise<DomainInfo> {
    const d = this.mustGet(uuid);
    if (d.state !== from)
      throw new DriverError('BAD_STATE', `domain ${uuid} is ${d.state}, expected ${from}`);
    const next: DomainRecord = { ...d, state: to };
    await this.commit((t) => t.set(uuid, next));
    return toInfo(next);
  }

  private async shutdown(uuid: string, clean: boolean): Promise<void> {
    const d = this.mustGet(uuid);
    // A clean shutdown asks the guest to cooperate; a paused guest cannot (xapi: Running only).
    if (clean && d.state !== 'running')
      throw new DriverError('BAD_STATE', `domain ${uuid} is ${d.state}; clean shutdown needs running`);
    await this.commit((t) => t.delete(uuid));
  }

  private async reboot(uuid: string, clean: boolean): Promise<DomainInfo> {
    const d = this.mustGet(uuid);
    if (clean && d.state !== 'running')
      throw new DriverError('BAD_STATE', `domain ${uuid} is ${d.state}; clean reboot needs running`);
    // A reboot destroys and rebuilds the domain: same uuid and spec, a fresh domid and start time.
    const next: DomainRecord = {
      ...d,
      domid: this.nextDomid,
      state: 'running',
      startedAtMs: this.clock.now(),
    };
    await this.commit((t) => t.set(uuid, next), this.nextDomid + 1);
    return toInfo(next);
  }

  private async suspend(uuid: string, imagePath: string): Promise<void> {
    const d = this.mustGet(uuid);
    if (d.state !== 'running')
      throw new DriverError('BAD_STATE', `domain ${uuid} is ${d.state}; suspend needs running`);
    const image: SuspendImage = {
      uuid,
      memoryBytes: d.memoryBytes,
      vcpus: d.vcpus,
      state: d.state,
      suspendedAtMs: this.clock.now(),
    };
    // The image is durable before the domain goes: a crash in between leaves a running domain and
    // a stale image, which a retried suspend overwrites; never a lost guest.
    try {
      await writeFileAtomic(imagePath, encodeImage(image));
    } catch (e) {
      throw new DriverError('IO_ERROR', `cannot write suspend image ${imagePath}: ${String(e)}`, {
        cause: e,
      });
    }
    await this.commit((t) => t.delete(uuid));
  }

  private async resume(
    spec: DomainSpec,
    imagePath: string,
    paused: boolean,
    watchdogAtMs?: number,
  ): Promise<DomainInfo> {
    checkSpec(spec);
    if (this.alive().has(spec.uuid))
      throw new DriverError('DOMAIN_EXISTS', `domain ${spec.uuid} already exists`);
    const image = await readImage(imagePath);
    if (image.uuid !== spec.uuid) {
      throw new DriverError(
        'IO_ERROR',
        `suspend image ${imagePath} belongs to ${image.uuid}, not ${spec.uuid}`,
      );
    }
    // Memory contents cannot be restored into a domain of a different size.
    if (image.memoryBytes !== spec.memoryBytes) {
      throw new DriverError(
        'IO_ERROR',
        `suspend image ${imagePath} has ${image.memoryBytes} bytes of memory, spec asks ${spec.memoryBytes}`,
      );
    }
    return this.boot(spec, paused, watchdogAtMs);
  }

  private mustGet(uuid: string): DomainRecord {
    const d = this.alive().get(uuid);
    if (d === undefined) throw new DriverError('NO_SUCH_DOMAIN', `no domain ${uuid}`);
    return d;
  }

  /**
   * Applies `change` to a copy of the table, persists it, and only then adopts it in memory, so a
   * failed write leaves both the file and the memory as they were.
   */
  private async commit(
    change: (table: Map<string, DomainRecord>) => void,
    nextDomid = this.nextDomid,
  ): Promise<void> {
    const table = new Map(this.domains);
    change(table);
    const state: StateFile = { version: STATE_VERSION, nextDomid, domains: [...table.values()] };
    try {
      await writeFileAtomic(this.statePath, encodeState(state));
    } catch (e) {
      throw new DriverError('IO_ERROR', `cannot persist ${this.statePath}: ${String(e)}`, { cause: e });
    }
    this.domains = table;
    this.nextDomid = nextDomid;
  }
}

/** Domain specs come from validated VM records; a bad one here is a caller bug, not user input. */
function checkSpec(spec: DomainSpec): void {
  assert(spec.uuid.length > 0, 'DomainSpec.uuid is empty');
  assert(
    Number.isSafeInteger(spec.memoryBytes) && spec.memoryBytes > 0,
    `bad memoryBytes ${spec.memoryBytes}`,
  );
  assert(Number.isSafeInteger(spec.vcpus) && spec.vcpus > 0, `bad vcpus ${spec.vcpus}`);
}

function toInfo(d: DomainRecord): DomainInfo {
  const leases = d.disks.flatMap((disk) => (disk.lease === undefined ? [] : [{ ...disk.lease }]));
  return {
    uuid: d.uuid,
    domid: d.domid,
    state: d.state,
    memoryBytes: d.memoryBytes,
    vcpus: d.vcpus,
    startedAtMs: d.startedAtMs,
    ...(leases.length > 0 ? { leases } : {}),
    ...(d.watchdogAtMs === undefined ? {} : { watchdogAtMs: d.watchdogAtMs }),
  };
}

function maybeInfo(d: DomainRecord | undefined): DomainInfo | undefined {
  return d === undefined ? undefined : toInfo(d);
}
