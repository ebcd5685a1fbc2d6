// Which VM operations are allowed in which state (xapi_vm_lifecycle.ml), as pure functions of the
// record: used to check a call before it runs and to keep `allowed_operations` right after every
// change. Checks run in xapi's order: blocked_operations, power state, concurrent operations.
import { ApiError, type ErrorCode } from '../../model/errors.js';

export type PowerState = 'Halted' | 'Paused' | 'Running' | 'Suspended';

const H: PowerState = 'Halted';
const P: PowerState = 'Paused';
const R: PowerState = 'Running';
const S: PowerState = 'Suspended';

/** Power states in which each operation may start. */
export const allowedPowerStates: Readonly<Record<string, readonly PowerState[]>> = {
  start: [H],
  start_on: [H],
  provision: [H],
  make_into_template: [H],
  unpause: [P],
  resume: [S],
  resume_on: [S],
  clean_shutdown: [R],
  clean_reboot: [R],
  suspend: [R],
  pause: [R],
  pool_migrate: [R],
  hard_reboot: [P, R],
  hard_shutdown: [P, S, R],
  shutdown: [P, S, R],
  checkpoint: [P, S, R],
  destroy: [H, S],
  export: [H, S],
  clone: [H],
  copy: [H],
  migrate_send: [H, S, R],
  changing_dynamic_range: [H, R],
  changing_memory_limits: [H],
  changing_VCPUs: [H],
  power_state_reset: [H, P, R, S],
  snapshot: [H, P, R, S],
  metadata_export: [H, P, R, S],
  assert_operation_valid: [H, P, R, S],
};

/** Operations that never appear in allowed_operations of a template. */
const notForTemplates = new Set([
  'start',
  'start_on',
  'unpause',
  'resume',
  'resume_on',
  'clean_shutdown',
  'clean_reboot',
  'suspend',
  'pause',
  'hard_reboot',
  'hard_shutdown',
  'shutdown',
  'pool_migrate',
  'checkpoint',
]);

const copying = new Set(['clone', 'copy', 'export']);

/** Pairs that may run at the same time (xapi: clone/copy/export together; snapshots; hard ops). */
function compatible(op: string, running: string): boolean {
  if (copying.has(op) && copying.has(running)) return true;
  if (op === 'hard_shutdown') return running !== 'hard_shutdown';
  if (op === 'hard_reboot') return running !== 'hard_shutdown' && running !== 'hard_reboot';
  if (op === 'power_state_reset') return true;
  return false;
}

interface VmView {
  power_state: string;
  is_a_template: boolean;
  is_control_domain: boolean;
  blocked_operations: Record<string, string>;
  current_operations: Record<string, string>;
}

/** Why an operation may not start: an error code and its parameters, not yet an ApiError. */
export type Refusal = readonly [code: ErrorCode, params: readonly string[]];

const CONTROL_DOMAIN: Refusal = [
  'OPERATION_NOT_ALLOWED',
  ['This operation is not allowed on the control domain.'],
];

/**
 * The reason `op` may not start now, or undefined when it may. Plain data: allowed_operations
 * probes every operation on every VM change, and an ApiError (with its stack trace) for each
 * refused probe cost more than the rest of a VM.create.
 */
export function operationRefusal(ref: string, vm: VmView, op: string): Refusal | undefined {
  const blocked = vm.blocked_operations[op];
  if (blocked !== undefined) return ['OPERATION_BLOCKED', [ref, blocked]];
  if (vm.is_control_domain && op !== 'assert_operation_valid' && op !== 'metadata_export') {
    return CONTROL_DOMAIN;
  }
  if (vm.is_a_template && notForTemplates.has(op)) return ['VM_IS_TEMPLATE', [ref]];
  const states = allowedPowerStates[op] ?? [];
  if (!states.includes(vm.power_state as PowerState)) {
    return [
      'VM_BAD_POWER_STATE',
      [ref, states.map((s) => s.toLowerCase()).join(', '), vm.power_state.toLowerCase()],
    ];
  }
  for (const opRef in vm.current_operations) {
    const running = vm.current_operations[opRef];
    if (running !== undefined && !compatible(op, running))
      return ['OTHER_OPERATION_IN_PROGRESS', ['VM', ref, running, opRef]];
  }
  return undefined;
}

/** The reason `op` may not start now, as an ApiError, or undefined when it may. */
export function checkOperation(ref: string, vm: VmView, op: string): ApiError | undefined {
  const r = operationRefusal(ref, vm, op);
  return r === undefined ? undefined : new ApiError(r[0], r[1]);
}

/** The operations list shown in `allowed_operations` (only the ones clients act on). */
const advertised = [
  'start',
  'start_on',
  'unpause',
  'resume',
  'resume_on',
  'clean_shutdown',
  'clean_reboot',
  'suspend',
  'pause',
  'hard_reboot',
  'hard_shutdown',
  'pool_migrate',
  'destroy',
  'clone',
  'copy',
  'provision',
  'export',
  'snapshot',
  'changing_dynamic_range',
  'changing_memory_limits',
  'changing_VCPUs',
  'make_into_template',
  'metadata_export',
] as const;

export function vmAllowedOperations(ref: string, vm: VmView): string[] {
  return advertised.filter((op) => operationRefusal(ref, vm, op) === undefined);
}
