// Proves the replication, promotion and liveness state machines keep the pool's safety invariants
// under thousands of seeded schedules of crashes, clean shutdowns, restarts, freezes, partitions,
// loss, clock skew and promotions, in pools of 2, 3 and 5 hosts (two-host degraded mode, and
// forced promotions that leave unreachable hosts out of the quorum, included): one master per
// epoch, no acknowledged write lost by a promotion the tool allows, replicas are prefixes of the
// master's log, no host's (epoch, generation) ever goes back, masters step down on a newer epoch,
// and liveness on the master's clock is never wrong about a host it heard from and always catches
// a stopped one in time. Each seed replays exactly.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterSim, hostsFor, SIM_STEPS, type SimResult } from './cluster-sim.js';

const SCHEDULES = Number(process.env.SIM_SCHEDULES ?? 10_000);

function run(seed: number): SimResult {
  return new ClusterSim(seed, hostsFor(seed)).run(SIM_STEPS);
}

describe('replication simulator', () => {
  it(`holds every invariant over ${SCHEDULES} seeded schedules`, (t) => {
    const total = {
      acked: 0,
      promotions: 0,
      deadReports: 0,
      liveReports: 0,
      staleDemotions: 0,
      degradedEntries: 0,
      degradedAcks: 0,
      forcedExclusions: 0,
      forcedReturns: 0,
      reducedAcks: 0,
      thinAcks: 0,
      refusedLacking: 0,
      refusedLackingDegraded: 0,
      forcedGiveUps: 0,
    };
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
    t.diagnostic(JSON.stringify(total));
    // The schedules must exercise what they claim to: writes acknowledged, masters replaced,
    // members declared dead and back, masters demoted by a member's 'stale' answer, two-host
    // masters acknowledging alone, unforced promotions refused for lack of such a write, and
    // forced promotions leaving hosts out of the quorum, acknowledging without them and taking
    // them back.
    const n = SCHEDULES;
    assert.ok(total.acked > n, `acknowledged writes: ${total.acked}`);
    assert.ok(total.promotions > n / 10, `promotions: ${total.promotions}`);
    assert.ok(total.deadReports > n / 2, `dead reports: ${total.deadReports}`);
    assert.ok(total.liveReports > n / 10, `live-again reports: ${total.liveReports}`);
    assert.ok(total.staleDemotions > n / 1000, `demotions by a stale answer: ${total.staleDemotions}`);
    assert.ok(total.degradedEntries > n / 40, `degraded-mode entries: ${total.degradedEntries}`);
    assert.ok(total.degradedAcks > n / 10, `writes acknowledged in degraded mode: ${total.degradedAcks}`);
    assert.ok(
      total.refusedLackingDegraded > n / 1000,
      `unforced promotions refused that lacked a degraded write: ${total.refusedLackingDegraded}`,
    );
    assert.ok(
      total.forcedExclusions > n / 100,
      `hosts left out by forced promotions: ${total.forcedExclusions}`,
    );
    assert.ok(total.forcedReturns > n / 200, `left-out hosts back by hello: ${total.forcedReturns}`);
    assert.ok(total.reducedAcks > n / 100, `writes acknowledged by a reduced quorum: ${total.reducedAcks}`);
    // The quorum floor (MasterReplicator.needed) keeps every acknowledged write where any majority meets it.
    assert.equal(total.thinAcks, 0, 'writes acknowledged while held by fewer than size - majority + 1 hosts');
  });

  it('replays a seed exactly', () => {
    for (const seed of [7, 12, 4242]) {
      const [a, b] = [run(seed), run(seed)];
      assert.deepEqual(a, b);
      assert.ok(a.trace.length > 0);
    }
  });
});
