// Proves the VM operation table: power-state checks with xapi's error parameters, blocked
// operations first, templates and control domains refused, concurrency rules, allowed_operations.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkOperation, vmAllowedOperations } from './operations.js';

const base = {
  power_state: 'Halted',
  is_a_template: false,
  is_control_domain: false,
  blocked_operations: {},
  current_operations: {},
};
const R = 'OpaqueRef:vm';

describe('VM operations', () => {
  it('reports VM_BAD_POWER_STATE with lower-case expected and actual states', () => {
    const err = checkOperation(R, { ...base, power_state: 'Running' }, 'start');
    assert.equal(err?.code, 'VM_BAD_POWER_STATE');
    assert.deepEqual(err?.params, [R, 'halted', 'running']);
    assert.deepEqual(checkOperation(R, base, 'hard_shutdown')?.params, [
      R,
      'paused, suspended, running',
      'halted',
    ]);
  });

  it('checks blocked_operations before the power state', () => {
    const err = checkOperation(
      R,
      { ...base, power_state: 'Running', blocked_operations: { start: 'maintenance' } },
      'start',
    );
    assert.deepEqual([err?.code, ...(err?.params ?? [])], ['OPERATION_BLOCKED', R, 'maintenance']);
  });

  it('refuses starting templates and touching the control domain', () => {
    assert.equal(checkOperation(R, { ...base, is_a_template: true }, 'start')?.code, 'VM_IS_TEMPLATE');
    assert.equal(
      checkOperation(R, { ...base, is_control_domain: true, power_state: 'Running' }, 'clean_shutdown')?.code,
      'OPERATION_NOT_ALLOWED',
    );
  });

  it('allows hard_shutdown during a clean_shutdown but not a second start', () => {
    const busy = { ...base, power_state: 'Running', current_operations: { 'OpaqueRef:t': 'clean_shutdown' } };
    assert.equal(checkOperation(R, busy, 'hard_shutdown'), undefined);
    const err = checkOperation(R, busy, 'clean_reboot');
    assert.deepEqual(
      [err?.code, ...(err?.params ?? [])],
      ['OTHER_OPERATION_IN_PROGRESS', 'VM', R, 'clean_shutdown', 'OpaqueRef:t'],
    );
  });

  it('derives allowed_operations from the same table', () => {
    assert.ok(vmAllowedOperations(R, base).includes('start'));
    assert.ok(!vmAllowedOperations(R, base).includes('clean_shutdown'));
    const running = vmAllowedOperations(R, { ...base, power_state: 'Running' });
    assert.ok(
      running.includes('clean_shutdown') && running.includes('suspend') && !running.includes('start'),
    );
    assert.ok(!vmAllowedOperations(R, { ...base, is_a_template: true }).includes('start'));
  });
});
