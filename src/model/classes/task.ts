// task: a long-running asynchronous operation (xapi datamodel.ml `Task`). Not persistent.
import { defineClass, field, message, param } from '../define.js';
import { NULL_REF, stringMap, t } from '../types.js';

export const taskStatus = t.enumOf('task_status_type', [
  'pending',
  'success',
  'failure',
  'cancelling',
  'cancelled',
]);
export const taskAllowedOperations = t.enumOf('task_allowed_operations', ['cancel', 'destroy']);

export const Task = defineClass({
  name: 'task',
  doc: 'A long-running asynchronous task',
  persist: false,
  fields: {
    uuid: field(t.string, 'DynamicRO', 'Unique identifier/object reference'),
    name_label: field(t.string, 'DynamicRO', 'a human-readable name'),
    name_description: field(t.string, 'DynamicRO', 'a notes field containing human-readable description'),
    allowed_operations: field(
      t.set(taskAllowedOperations),
      'DynamicRO',
      'list of the operations allowed in this state. This list is advisory only and the server state may have changed by the time this field is read by a client.',
    ),
    current_operations: field(
      t.map(t.string, taskAllowedOperations),
      'DynamicRO',
      'links each of the running tasks using this object (by reference) to a current_operation enum which describes the nature of the task.',
    ),
    created: field(t.datetime, 'DynamicRO', 'Time task was created'),
    finished: field(
      t.datetime,
      'DynamicRO',
      'Time task finished (i.e. succeeded or failed). If task-status is pending, then the value of this field has no meaning',
    ),
    status: field(taskStatus, 'DynamicRO', 'current status of the task'),
    resident_on: field(t.ref('host'), 'DynamicRO', 'the host on which the task is running', {
      default: NULL_REF,
    }),
    progress: field(
      t.float,
      'DynamicRO',
      'This field contains the estimated fraction of the task which is complete. This field should not be used to determine whether the task is complete - for this the status field of the task should be used.',
    ),
    type: field(
      t.string,
      'DynamicRO',
      'if the task has completed successfully, this field contains the type of the encoded result (i.e. name of the class whose reference is in the result field). Undefined otherwise.',
    ),
    result: field(
      t.string,
      'DynamicRO',
      'if the task has completed successfully, this field contains the result value (either Void or an object reference). Undefined otherwise.',
    ),
    error_info: field(
      t.set(t.string),
      'DynamicRO',
      'if the task has failed, this field contains the set of associated error strings. Undefined otherwise.',
    ),
    other_config: field(stringMap, 'RW', 'additional configuration'),
    subtask_of: field(t.ref('task'), 'DynamicRO', 'Ref pointing to the task this is a substask of.', {
      default: NULL_REF,
      inverse: 'subtasks',
    }),
    subtasks: field(t.set(t.ref('task')), 'DynamicRO', 'List pointing to all the substasks.'),
    backtrace: field(t.string, 'DynamicRO', 'Function call trace for debugging.', { default: '()' }),
  },
  messages: {
    create: message({
      params: [
        param('label', t.string, 'short label for the new task'),
        param('description', t.string, 'longer description for the new task'),
      ],
      result: t.ref('task'),
      doc: 'Create a new task object which must be manually destroyed.',
      roles: 'read-only',
    }),
    destroy: message({
      params: [param('self', t.ref('task'), 'Reference to the task object')],
      result: t.void,
      doc: 'Destroy the task object',
      roles: 'read-only',
    }),
    cancel: message({
      params: [param('task', t.ref('task'), 'The task')],
      result: t.void,
      doc: 'Request that a task be cancelled. Note that a task may fail to be cancelled and may complete or fail normally and note that, even when a task does cancel, it might take an arbitrary amount of time.',
      errors: ['OPERATION_NOT_ALLOWED'],
      roles: 'read-only',
    }),
    set_status: message({
      params: [
        param('self', t.ref('task'), 'Reference to the task object'),
        param('value', taskStatus, 'task status value to be set'),
      ],
      result: t.void,
      doc: 'Set the task status',
      roles: 'read-only',
    }),
    set_progress: message({
      params: [
        param('self', t.ref('task'), 'Reference to the task object'),
        param('value', t.float, 'Task progress value to be set'),
      ],
      result: t.void,
      doc: 'Set the task progress',
      roles: 'read-only',
    }),
    set_result: message({
      params: [
        param('self', t.ref('task'), 'Reference to the task object'),
        param('value', t.string, 'Task result to be set'),
      ],
      result: t.void,
      doc: 'Set the task result',
      roles: 'read-only',
    }),
    set_error_info: message({
      params: [
        param('self', t.ref('task'), 'Reference to the task object'),
        param('value', t.set(t.string), 'Task error info to be set'),
      ],
      result: t.void,
      doc: 'Set the task error info',
      roles: 'read-only',
    }),
  },
});
