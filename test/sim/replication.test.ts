// Proves the replication and promotion state machines keep the pool's safety invariants under
// thousands of seeded schedules of crashes, restarts, freezes, partitions, loss and promotions:
// one master per epoch, no acknowledged write lost by a promotion the tool allows, replicas are
// prefixes of the master's log, and no host's (epoch, generation) ever goes back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterSim } from './cluster-sim.js';

const SCHEDULES = Number(process.env.SIM_SCHEDULES ?? 10_000);
const STEPS = 150;

describe('replication simulator', () => {
  it(`holds every invariant over ${SCHEDULES} seeded schedules`, () => {
    let acked = 0;
    let promotions = 0;
    for (let seed = 1; seed <= SCHEDULES; seed++) {
      const size = seed % 3 === 0 ? 5 : 3;
      const r = new ClusterSim(seed, size).run(STEPS);
      if (r.violation !== undefined) {
        assert.fail(
          `seed ${seed} (hosts ${size}): ${r.violation}\nreplay: npm run sim -- --seed ${seed}\n${r.trace.slice(-20).join('\n')}`,
        );
      }
      acked += r.acked;
      promotions += r.promotions;
    }
    // The schedules must exercise what they claim to: writes acknowledged and masters replaced.
    assert.ok(acked > SCHEDULES, `acknowledged writes: ${acked}`);
    assert.ok(promotions > SCHEDULES / 10, `promotions: ${promotions}`);
  });
});
