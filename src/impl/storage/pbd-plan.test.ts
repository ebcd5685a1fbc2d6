// Proves the PBD decisions: a (re)connecting host gets PBDs for shared SRs only, copied from an
// attached one, its attached PBDs are re-attached, and only disks of VMs running on a host block
// that host's unplug.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planHostPbds, vdisInUseOn, type PlanSr } from './pbd-plan.js';

const dc = (location: string) => ({ location });

describe('planHostPbds', () => {
  const srs: PlanSr[] = [
    {
      ref: 'shared',
      shared: true,
      pbds: [
        { ref: 'p-a', host: 'A', deviceConfig: dc('/old'), attached: false },
        { ref: 'p-b', host: 'B', deviceConfig: dc('/nfs'), attached: true },
      ],
    },
    {
      ref: 'local-a',
      shared: false,
      pbds: [{ ref: 'l-a', host: 'A', deviceConfig: dc('/a'), attached: true }],
    },
    {
      ref: 'mine',
      shared: true,
      pbds: [
        { ref: 'm-c', host: 'C', deviceConfig: dc('/m'), attached: false },
        { ref: 'm-a', host: 'A', deviceConfig: dc('/m'), attached: true },
      ],
    },
  ];

  it('gives a new host a PBD per shared SR, copied from an attached PBD', () => {
    const plan = planHostPbds('C', srs);
    assert.deepEqual(plan.create, [{ sr: 'shared', deviceConfig: { location: '/nfs' } }]);
    assert.deepEqual(plan.plug, [], 'an unplugged PBD stays unplugged');
  });

  it('re-attaches what is recorded attached and creates nothing twice', () => {
    const plan = planHostPbds('A', srs);
    assert.deepEqual(plan.create, []);
    assert.deepEqual(plan.plug, ['l-a', 'm-a']);
  });

  it('uses any PBD when none is attached, and skips SRs without PBDs', () => {
    const plan = planHostPbds('Z', [
      { ref: 's', shared: true, pbds: [{ ref: 'x', host: 'A', deviceConfig: dc('/x'), attached: false }] },
      { ref: 'empty', shared: true, pbds: [] },
    ]);
    assert.deepEqual(plan.create, [{ sr: 's', deviceConfig: { location: '/x' } }]);
  });
});

describe('vdisInUseOn', () => {
  it('counts only disks of VMs running on that host', () => {
    const vdis = new Set(['v1', 'v2', 'v3']);
    const vbds = [
      { vdi: 'v2', runningOn: 'A' },
      { vdi: 'v1', runningOn: 'B' },
      { vdi: 'v3', runningOn: undefined },
      { vdi: 'other-sr', runningOn: 'A' },
      { vdi: 'v2', runningOn: 'A' },
    ];
    assert.deepEqual(vdisInUseOn('A', vdis, vbds), ['v2']);
    assert.deepEqual(vdisInUseOn('B', vdis, vbds), ['v1']);
    assert.deepEqual(vdisInUseOn('C', vdis, vbds), []);
  });
});
