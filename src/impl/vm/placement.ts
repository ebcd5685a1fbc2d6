// Where a VM may run, as pure functions of plain facts about the hosts (xapi's
// choose_host_for_vm and the evacuation plan of host.evacuate). The callers gather the facts from
// the database; these functions decide, so the rules can be tested without a pool.
import type { ErrorCode } from '../../model/errors.js';

/** What placement needs to know about one host, for one VM. */
export interface HostView {
  readonly host: string;
  /** Live and reachable from the master (this host, or a connected member). */
  readonly live: boolean;
  readonly enabled: boolean;
  /** The first of the VM's SRs this host has no attached PBD for, if any. */
  readonly missingSr?: string;
  /** Memory not used by domains nor reserved by VMs being started or migrated there. */
  readonly freeBytes: number;
}

/** The VM being placed. */
export interface VmNeeds {
  readonly vm: string;
  readonly memoryBytes: number;
  /** The VM's affinity host (or the null ref): tried first when it qualifies. */
  readonly affinity: string;
  /** The host to prefer next (the master, where the caller runs), or the null ref. */
  readonly preferred: string;
}

/** A XenAPI error code and its parameters. */
export type Refusal = readonly [code: ErrorCode, params: readonly string[]];

/**
 * Why `h` cannot run the VM, in xapi's order (assert_can_boot_here): liveness, enabled, storage,
 * then memory unless `memory` is false.
 */
export function hostRefusal(h: HostView, needs: VmNeeds, memory = true): Refusal | undefined {
  if (!h.live) return ['HOST_NOT_LIVE', []];
  if (!h.enabled) return ['HOST_DISABLED', [h.host]];
  if (h.missingSr !== undefined) return ['VM_REQUIRES_SR', [needs.vm, h.missingSr]];
  if (memory && needs.memoryBytes > h.freeBytes)
    return ['HOST_NOT_ENOUGH_FREE_MEMORY', [String(needs.memoryBytes), String(h.freeBytes)]];
  return undefined;
}

export type Placement = { readonly host: string } | { readonly refusal: Refusal };

/**
 * The host a VM starts on. Rule: among the hosts that qualify (live, enabled, see every SR of
 * the VM, have the memory), the affinity host; else the preferred host (the master); else the
 * one with the most free memory, the first listed on a tie. When none qualifies: a single-host
 * pool gets that host's specific error, a larger pool NO_HOSTS_AVAILABLE (as xapi).
 */
export function choosePlacement(hosts: readonly HostView[], needs: VmNeeds): Placement {
  const fitting = hosts.filter((h) => hostRefusal(h, needs) === undefined);
  if (fitting.length === 0) {
    const only = hosts.length === 1 ? hosts[0] : undefined;
    const specific = only === undefined ? undefined : hostRefusal(only, needs);
    return { refusal: specific ?? ['NO_HOSTS_AVAILABLE', []] };
  }
  const named = (ref: string) => fitting.find((h) => h.host === ref);
  const best = fitting.reduce((a, b) => (b.freeBytes > a.freeBytes ? b : a));
  return { host: (named(needs.affinity) ?? named(needs.preferred) ?? best).host };
}

/** One VM of a host being evacuated, with the other hosts as they are for it. */
export interface Evacuee {
  readonly needs: VmNeeds;
  /** Why the VM cannot be migrated at all (its power state, an operation in progress). */
  readonly opRefusal?: Refusal;
  /** The target hosts (enabled hosts other than the evacuated one), seen for this VM. */
  readonly targets: readonly HostView[];
}

/**
 * The evacuation plan (xapi compute_evacuation_plan_no_wlb): a target host for every VM, or why
 * it cannot go. No target at all ⇒ NO_HOSTS_AVAILABLE [vm]; a VM no target can run for a reason
 * other than memory ⇒ the first target's reason (e.g. VM_REQUIRES_SR); VMs that can move are
 * packed largest first, each onto the target with the most memory left, and a VM that fits
 * nowhere ⇒ HOST_NOT_ENOUGH_FREE_MEMORY [vm]. Memory placed earlier in the plan counts.
 */
export function planEvacuation(vms: readonly Evacuee[]): Map<string, Placement> {
  const plan = new Map<string, Placement>();
  const left = new Map<string, number>();
  const movable: { e: Evacuee; candidates: string[] }[] = [];
  for (const e of vms) {
    const vm = e.needs.vm;
    if (e.targets.length === 0) {
      plan.set(vm, { refusal: ['NO_HOSTS_AVAILABLE', [vm]] });
      continue;
    }
    if (e.opRefusal !== undefined) {
      plan.set(vm, { refusal: e.opRefusal });
      continue;
    }
    for (const t of e.targets) if (!left.has(t.host)) left.set(t.host, t.freeBytes);
    const candidates = e.targets.filter((t) => hostRefusal(t, e.needs, false) === undefined);
    const first = e.targets[0];
    if (candidates.length === 0 && first !== undefined) {
      plan.set(vm, { refusal: hostRefusal(first, e.needs, false) ?? ['NO_HOSTS_AVAILABLE', [vm]] });
      continue;
    }
    movable.push({ e, candidates: candidates.map((t) => t.host) });
  }
  movable.sort((a, b) => b.e.needs.memoryBytes - a.e.needs.memoryBytes);
  for (const { e, candidates } of movable) {
    let target: string | undefined;
    for (const c of candidates) {
      const free = left.get(c) ?? 0;
      if (free >= e.needs.memoryBytes && (target === undefined || free > (left.get(target) ?? 0))) target = c;
    }
    if (target === undefined) {
      plan.set(e.needs.vm, { refusal: ['HOST_NOT_ENOUGH_FREE_MEMORY', [e.needs.vm]] });
      continue;
    }
    left.set(target, (left.get(target) ?? 0) - e.needs.memoryBytes);
    plan.set(e.needs.vm, { host: target });
  }
  return plan;
}
