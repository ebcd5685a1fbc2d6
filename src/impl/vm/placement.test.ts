// Proves the placement rules: affinity, then the master, then most free memory; xapi's specific
// error on a single-host pool and NO_HOSTS_AVAILABLE on larger ones; and the evacuation plan's
// packing and per-VM reasons.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NULL_REF } from '../../model/types.js';
import { choosePlacement, hostRefusal, planEvacuation, type HostView, type VmNeeds } from './placement.js';

const GiB = 1024 ** 3;
const host = (name: string, free: number, over: Partial<HostView> = {}): HostView => ({
  host: name,
  live: true,
  enabled: true,
  freeBytes: free * GiB,
  ...over,
});
const needs = (memory: number, over: Partial<VmNeeds> = {}): VmNeeds => ({
  vm: 'vm1',
  memoryBytes: memory * GiB,
  affinity: NULL_REF,
  preferred: NULL_REF,
  ...over,
});

describe('hostRefusal', () => {
  it('checks liveness, enabled, storage, then memory, with xapi parameters', () => {
    const n = needs(2);
    assert.deepEqual(hostRefusal(host('a', 1, { live: false, enabled: false }), n), ['HOST_NOT_LIVE', []]);
    assert.deepEqual(hostRefusal(host('a', 1, { enabled: false, missingSr: 's' }), n), [
      'HOST_DISABLED',
      ['a'],
    ]);
    assert.deepEqual(hostRefusal(host('a', 1, { missingSr: 's' }), n), ['VM_REQUIRES_SR', ['vm1', 's']]);
    assert.deepEqual(hostRefusal(host('a', 1), n), [
      'HOST_NOT_ENOUGH_FREE_MEMORY',
      [String(2 * GiB), String(1 * GiB)],
    ]);
    assert.equal(hostRefusal(host('a', 1), n, false), undefined);
    assert.equal(hostRefusal(host('a', 2), n), undefined, 'exactly enough memory fits');
  });
});

describe('choosePlacement', () => {
  it('prefers the affinity host, then the preferred host, then the most free memory', () => {
    const hosts = [host('a', 4), host('b', 8), host('c', 6)];
    assert.deepEqual(choosePlacement(hosts, needs(1, { affinity: 'c', preferred: 'a' })), { host: 'c' });
    assert.deepEqual(choosePlacement(hosts, needs(1, { preferred: 'a' })), { host: 'a' });
    assert.deepEqual(choosePlacement(hosts, needs(1)), { host: 'b' });
    // The preferred host is passed over when it is full; the affinity host when it is disabled.
    assert.deepEqual(choosePlacement(hosts, needs(5, { preferred: 'a' })), { host: 'b' });
    const disabledC = [host('a', 4), host('b', 8), host('c', 6, { enabled: false })];
    assert.deepEqual(choosePlacement(disabledC, needs(1, { affinity: 'c' })), { host: 'b' });
    // Ties go to the first listed host.
    assert.deepEqual(choosePlacement([host('a', 4), host('b', 4)], needs(1)), { host: 'a' });
  });

  it('never picks a dead, disabled, blind or full host', () => {
    const hosts = [
      host('dead', 16, { live: false }),
      host('off', 16, { enabled: false }),
      host('blind', 16, { missingSr: 's' }),
      host('full', 1),
      host('ok', 3),
    ];
    assert.deepEqual(choosePlacement(hosts, needs(2, { preferred: 'dead', affinity: 'blind' })), {
      host: 'ok',
    });
  });

  it('a single host gives its specific reason; several give NO_HOSTS_AVAILABLE', () => {
    assert.deepEqual(choosePlacement([host('a', 1)], needs(2)), {
      refusal: ['HOST_NOT_ENOUGH_FREE_MEMORY', [String(2 * GiB), String(1 * GiB)]],
    });
    assert.deepEqual(choosePlacement([host('a', 8, { missingSr: 's' })], needs(2)), {
      refusal: ['VM_REQUIRES_SR', ['vm1', 's']],
    });
    assert.deepEqual(choosePlacement([host('a', 1), host('b', 8, { missingSr: 's' })], needs(2)), {
      refusal: ['NO_HOSTS_AVAILABLE', []],
    });
    assert.deepEqual(choosePlacement([], needs(2)), { refusal: ['NO_HOSTS_AVAILABLE', []] });
  });
});

describe('planEvacuation', () => {
  const vm = (name: string, memory: number, targets: HostView[], over: object = {}) => ({
    needs: needs(memory, { vm: name }),
    targets,
    ...over,
  });

  it('packs the largest VMs first onto the target with the most memory left', () => {
    const targets = [host('b', 6), host('c', 5)];
    const plan = planEvacuation([vm('small', 1, targets), vm('big', 4, targets), vm('mid', 3, targets)]);
    // big → b (6 → 2), mid → c (5 → 2), small → b (tie 2/2: first listed).
    assert.deepEqual(plan.get('big'), { host: 'b' });
    assert.deepEqual(plan.get('mid'), { host: 'c' });
    assert.deepEqual(plan.get('small'), { host: 'b' });
  });

  it('reports the VM that does not fit, with the VM as parameter', () => {
    const targets = [host('b', 4)];
    const plan = planEvacuation([vm('x', 3, targets), vm('y', 2, targets)]);
    assert.deepEqual(plan.get('x'), { host: 'b' });
    assert.deepEqual(plan.get('y'), { refusal: ['HOST_NOT_ENOUGH_FREE_MEMORY', ['y']] });
  });

  it('places a VM only where it sees its SRs, and names the SR when no target does', () => {
    const plan = planEvacuation([
      vm('local', 1, [host('b', 8, { missingSr: 's' }), host('c', 2)]),
      vm('stuck', 1, [host('b', 8, { missingSr: 's2' }), host('c', 8, { missingSr: 's2' })]),
    ]);
    assert.deepEqual(plan.get('local'), { host: 'c' });
    assert.deepEqual(plan.get('stuck'), { refusal: ['VM_REQUIRES_SR', ['stuck', 's2']] });
  });

  it('no target host ⇒ NO_HOSTS_AVAILABLE [vm]; an operation refusal is kept', () => {
    const plan = planEvacuation([
      vm('alone', 1, []),
      vm('paused', 1, [host('b', 8)], { opRefusal: ['VM_BAD_POWER_STATE', ['paused', 'running', 'paused']] }),
    ]);
    assert.deepEqual(plan.get('alone'), { refusal: ['NO_HOSTS_AVAILABLE', ['alone']] });
    assert.deepEqual(plan.get('paused'), {
      refusal: ['VM_BAD_POWER_STATE', ['paused', 'running', 'paused']],
    });
  });
});
