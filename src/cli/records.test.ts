// Proves xe's record layout: keys aligned on the colon (first left-aligned, the rest
// right-aligned to 4 + the longest key), RO/RW/M/S suffixes, value rendering and --minimal.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classDef } from '../model/index.js';
import { NULL_REF, t } from '../model/types.js';
import { formatValue, layoutRecord, minimalJoin, qualifierTag, RefResolver } from './records.js';

const hosts: Record<string, Record<string, unknown>> = { 'OpaqueRef:h': { uuid: 'host-uuid' } };
const refs = new RefResolver(async (cls) => (cls === 'host' ? hosts : {}));

describe('xe records', () => {
  it('aligns keys as xe does', () => {
    const text = layoutRecord([
      { key: 'uuid ( RO)', value: 'u' },
      { key: 'name-label ( RW)', value: 'web01' },
      { key: 'power-state ( RO)', value: 'running' },
    ]);
    assert.equal(
      text,
      'uuid ( RO)           : u\n     name-label ( RW): web01\n    power-state ( RO): running\n',
    );
  });

  it('marks fields RO/RW and maps/sets', () => {
    const vm = classDef('VM');
    assert.ok(vm !== undefined);
    assert.equal(qualifierTag(vm, 'name_label'), '( RW)');
    assert.equal(qualifierTag(vm, 'power_state'), '( RO)');
    assert.equal(qualifierTag(vm, 'other_config'), '(MRW)');
    assert.equal(qualifierTag(vm, 'VBDs'), '(SRO)');
    assert.equal(qualifierTag(vm, 'VCPUs_max'), '( RW)', 'StaticRO with an explicit setter');
  });

  it('renders values: refs as uuids, null refs, maps, sets, enums, floats', async () => {
    assert.equal(await formatValue(t.ref('host'), 'OpaqueRef:h', refs), 'host-uuid');
    assert.equal(await formatValue(t.ref('host'), NULL_REF, refs), '<not in database>');
    assert.equal(await formatValue(t.map(t.string, t.string), { a: '1', b: '2' }, refs), 'a: 1; b: 2');
    assert.equal(await formatValue(t.set(t.string), ['x', 'y'], refs), 'x; y');
    assert.equal(await formatValue(t.enumOf('vm_power_state', ['Running']), 'Running', refs), 'running');
    assert.equal(
      await formatValue(t.enumOf('vbd_mode', ['RO', 'RW']), 'RW', refs),
      'RW',
      'other enums keep their wire name',
    );
    assert.equal(await formatValue(t.float, 0.5, refs), '0.500');
    assert.equal(minimalJoin(['a,b', 'c\\d']), 'a\\,b,c\\\\d');
  });
});
