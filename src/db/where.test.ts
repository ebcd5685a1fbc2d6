// Proves get_all_records_where's expression language parses xapi's syntax and compares DB strings.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../model/errors.js';
import { evalWhere, parseWhere } from './where.js';

const vm = { power_state: 'Running', is_a_template: false, name_label: 'web "1"', VCPUs_max: 2 };

describe('where', () => {
  it('evaluates field comparisons with and/or/not/parentheses', () => {
    const yes = [
      'field "power_state"="Running"',
      'field "is_a_template"="false" and field "power_state"="Running"',
      'field "power_state"="Halted" or field "VCPUs_max"="2"',
      'not (field "power_state"="Halted")',
      'true',
      'field "power_state" <> "Halted"',
      'field "name_label"="web \\"1\\""',
    ];
    for (const e of yes) assert.equal(evalWhere(parseWhere(e), vm), true, e);
    for (const e of ['false', 'field "power_state"="running"', 'not true'])
      assert.equal(evalWhere(parseWhere(e), vm), false, e);
  });

  it('rejects malformed expressions with INVALID_VALUE', () => {
    for (const e of ['', 'field', 'field "a"=', '(true', 'true true', 'field "a"="b" and', '"a" ~ "b"']) {
      assert.throws(
        () => parseWhere(e),
        (x: unknown) => x instanceof ApiError && x.code === 'INVALID_VALUE',
        e,
      );
    }
  });
});
