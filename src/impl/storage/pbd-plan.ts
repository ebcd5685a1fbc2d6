// Pure decisions about PBDs, kept apart from I/O so they can be tested alone: which PBDs a host
// must get and plug when it (re)connects, and which VDIs keep a host from unplugging an SR.

export interface PlanPbd {
  readonly ref: string;
  readonly host: string;
  readonly deviceConfig: Record<string, string>;
  readonly attached: boolean;
}

export interface PlanSr {
  readonly ref: string;
  readonly shared: boolean;
  readonly pbds: readonly PlanPbd[];
}

export interface HostPbdPlan {
  /** Shared SRs the host has no PBD for, with the device_config its new PBD gets. */
  readonly create: { sr: string; deviceConfig: Record<string, string> }[];
  /** The host's PBDs that are recorded attached: they are attached again on the host. */
  readonly plug: string[];
}

/**
 * What a host needs when it joins or reconnects: as in xapi's join, every shared SR gets a PBD
 * for it, copied from the pool's other PBDs of that SR (the same storage, reached the same way);
 * PBDs recorded as attached are attached again, so the host's drivers match the database.
 * PBDs an administrator unplugged stay unplugged.
 */
export function planHostPbds(host: string, srs: readonly PlanSr[]): HostPbdPlan {
  const create: HostPbdPlan['create'] = [];
  const plug: string[] = [];
  for (const sr of srs) {
    const mine = sr.pbds.filter((p) => p.host === host);
    for (const p of mine) if (p.attached) plug.push(p.ref);
    if (!sr.shared || mine.length > 0) continue;
    const model = sr.pbds.find((p) => p.attached) ?? sr.pbds[0];
    if (model !== undefined) create.push({ sr: sr.ref, deviceConfig: { ...model.deviceConfig } });
  }
  return { create, plug };
}

/** A VBD that names a disk (empty drives are left out). */
export interface PlanVbd {
  readonly vdi: string;
  /** The host the VBD's VM runs on, when it runs (Running or Paused), else undefined. */
  readonly runningOn: string | undefined;
}

/**
 * VDIs of an SR that a host is using: a disk of a VM running (or paused) there. Unplugging
 * the host's PBD would pull the disk from under the guest (xapi's VDI_IN_USE on PBD.unplug);
 * VMs on other hosts keep their own PBDs and do not count.
 */
export function vdisInUseOn(host: string, srVdis: ReadonlySet<string>, vbds: readonly PlanVbd[]): string[] {
  const out = new Set<string>();
  for (const v of vbds) if (srVdis.has(v.vdi) && v.runningOn === host) out.add(v.vdi);
  return [...out].sort();
}
