// xapi's implicit messages, derived from field qualifiers (Datamodel_utils.add_implicit_messages):
// get_record, get_by_uuid, get_all, get_all_records(_where), get_by_name_label, get_<f>, set_<f>
// for RW fields, add_to_/remove_from_ for RW maps and add_/remove_ for RW sets.
import type { ClassDef, MessageDef, ParamDef } from '../define.js';
import { message, param } from '../define.js';
import type { Ty } from '../types.js';
import { t } from '../types.js';

/** xapi has no Async variants for these classes (datamodel.ml no_async_messages_for). */
export const noAsyncClasses: ReadonlySet<string> = new Set([
  'session',
  'event',
  'task',
  'data_source',
  'blob',
]);

/**
 * xapi offers get_all/get_all_records(_where) only for the classes in datamodel.ml
 * `expose_get_all_messages_for`, which leaves out session: session refs are bearer credentials, and
 * npm xen-api fetches `<T>.get_all_records` for every such method system.listMethods lists.
 */
export const noGetAllClasses: ReadonlySet<string> = new Set(['session']);

export type ImplicitKind =
  | { kind: 'get_record' }
  | { kind: 'get_by_uuid' }
  | { kind: 'get_all' }
  | { kind: 'get_all_records' }
  | { kind: 'get_all_records_where' }
  | { kind: 'get_by_name_label' }
  | { kind: 'get_field'; field: string }
  | { kind: 'set_field'; field: string }
  | { kind: 'add_to_map'; field: string }
  | { kind: 'remove_from_map'; field: string }
  | { kind: 'add_to_set'; field: string }
  | { kind: 'remove_from_set'; field: string };

export interface ImplicitMessage {
  readonly name: string;
  readonly def: MessageDef;
  readonly implicit: ImplicitKind;
}

function self(cls: string): ParamDef {
  return param('self', t.ref(cls), `reference to the object`);
}

export function implicitMessages(def: ClassDef): ImplicitMessage[] {
  const cls = def.name;
  if (Object.keys(def.fields).length === 0) return [];
  const out: ImplicitMessage[] = [];
  const add = (
    name: string,
    implicit: ImplicitKind,
    params: readonly ParamDef[],
    result: Ty,
    doc: string,
    write = false,
  ) => {
    if (def.messages[name] !== undefined) return; // an explicit message of the same name wins
    out.push({
      name,
      implicit,
      def: message({
        params,
        result,
        doc,
        roles: write ? 'vm-admin' : 'read-only',
        errors: write ? ['HANDLE_INVALID'] : [],
      }),
    });
  };
  add(
    'get_record',
    { kind: 'get_record' },
    [self(cls)],
    t.record(cls),
    `Get a record containing the current state of the given ${cls}.`,
  );
  if (def.fields.uuid !== undefined) {
    add(
      'get_by_uuid',
      { kind: 'get_by_uuid' },
      [param('uuid', t.string, 'UUID of object to return')],
      t.ref(cls),
      `Get a reference to the ${cls} instance with the specified UUID.`,
    );
  }
  if (!noGetAllClasses.has(cls)) {
    add(
      'get_all',
      { kind: 'get_all' },
      [],
      t.set(t.ref(cls)),
      `Return a list of all the ${cls}s known to the system.`,
    );
    add(
      'get_all_records',
      { kind: 'get_all_records' },
      [],
      t.map(t.ref(cls), t.record(cls)),
      `Return a map of ${cls} references to ${cls} records for all ${cls}s known to the system.`,
    );
    add(
      'get_all_records_where',
      { kind: 'get_all_records_where' },
      [param('expr', t.string, 'The expression to match')],
      t.map(t.ref(cls), t.record(cls)),
      `Return a map of ${cls} references to ${cls} records for all ${cls}s matching the expression.`,
    );
  }
  if (def.fields.name_label !== undefined) {
    add(
      'get_by_name_label',
      { kind: 'get_by_name_label' },
      [param('label', t.string, 'label of object to return')],
      t.set(t.ref(cls)),
      `Get all the ${cls} instances with the given label.`,
    );
  }
  for (const [name, f] of Object.entries(def.fields)) {
    add(
      `get_${name}`,
      { kind: 'get_field', field: name },
      [self(cls)],
      f.ty,
      `Get the ${name} field of the given ${cls}.`,
    );
    if (f.qualifier !== 'RW') continue;
    add(
      `set_${name}`,
      { kind: 'set_field', field: name },
      [self(cls), param('value', f.ty, 'New value to set')],
      t.void,
      `Set the ${name} field of the given ${cls}.`,
      true,
    );
    if (f.ty.kind === 'map') {
      add(
        `add_to_${name}`,
        { kind: 'add_to_map', field: name },
        [self(cls), param('key', f.ty.key, 'Key to add'), param('value', f.ty.value, 'Value to add')],
        t.void,
        `Add the given key-value pair to the ${name} field of the given ${cls}.`,
        true,
      );
      add(
        `remove_from_${name}`,
        { kind: 'remove_from_map', field: name },
        [self(cls), param('key', f.ty.key, 'Key to remove')],
        t.void,
        `Remove the given key and its corresponding value from the ${name} field of the given ${cls}.  If the key is not in that Map, then do nothing.`,
        true,
      );
    }
    if (f.ty.kind === 'set') {
      add(
        `add_${name}`,
        { kind: 'add_to_set', field: name },
        [self(cls), param('value', f.ty.of, 'New value to add')],
        t.void,
        `Add the given value to the ${name} field of the given ${cls}.  If the value is already in that Set, then do nothing.`,
        true,
      );
      add(
        `remove_${name}`,
        { kind: 'remove_from_set', field: name },
        [self(cls), param('value', f.ty.of, 'Value to remove')],
        t.void,
        `Remove the given value from the ${name} field of the given ${cls}.  If the value is not in that Set, then do nothing.`,
        true,
      );
    }
  }
  return out;
}
