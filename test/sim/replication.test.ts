// Proves the replication, promotion and liveness state machines keep the pool's safety invariants
// under thousands of seeded schedules of crashes, clean shutdowns, restarts, freezes, partitions,
// loss, clock skew and promotions: one master per epoch, no acknowledged write lost by a promotion
// the tool allows, replicas are prefixes of the master's log, no host's (epoch, generation) ever
// goes back, masters step down on a newer epoch, and liveness on the master's clock is never wrong
// about a host it heard from and always catches a stopped one in time. Each seed replays exactly.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterSim, hostsFor, SIM_STEPS, type SimResult } from './cluster-sim.js';

const SCHEDULES = Number(process.env.SIM_SCHEDULES ?? 10_000);

function run(seed: number): SimResult {
  return new ClusterSim(seed, hostsFor(seed)).run(SIM_STEPS);
}

describe('replication simulator', () => {
  it(`holds every invariant over ${SCHEDULES} seeded schedules`, () => {
    const total = { acked: 0, promotions: 0, deadReports: 0, liveReports: 0, staleDemotions: 0 };
    for (let seed = 1; seed <= SCHEDULES; seed++) {
      const r = run(seed);
      if (r.violation !== undefined) {
        assert.fail(
          `seed ${seed} (hosts ${hostsFor(seed)}): ${r.violation}\n` +
            `replay: npm run sim -- --seed ${seed}\n${r.trace.slice(-20).join('\n')}`,
        );
      }
      for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += r[k];
    }
    // The schedules must exercise what they claim to: writes acknowledged, masters replaced,
    // members declared dead and back, and masters demoted by a member's 'stale' answer.
    const n = SCHEDULES;
    assert.ok(total.acked > n, `acknowledged writes: ${total.acked}`);
    assert.ok(total.promotions > n / 10, `promotions: ${total.promotions}`);
    assert.ok(total.deadReports > n / 2, `dead reports: ${total.deadReports}`);
    assert.ok(total.liveReports > n / 10, `live-again reports: ${total.liveReports}`);
    assert.ok(total.staleDemotions > n / 1000, `demotions by a stale answer: ${total.staleDemotions}`);
  });

  it('replays a seed exactly', () => {
    for (const seed of [7, 12, 4242]) {
      const [a, b] = [run(seed), run(seed)];
      assert.deepEqual(a, b);
      assert.ok(a.trace.length > 0);
    }
  });
});
