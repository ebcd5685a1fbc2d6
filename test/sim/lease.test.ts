// Proves the disk lease protocol never lets two hosts use one VDI read-write: thousands of seeded
// schedules with stalled, failed, late and hung storage writes, frozen and crashed hosts, restarts
// that re-adopt their domains, hosts behind on the pool epoch, and VMs started anywhere at any time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaseSim, LEASE_SIM_EVENTS } from './lease-sim.js';

const SCHEDULES = Number(process.env.LEASE_SIM_SCHEDULES ?? 10_000);

void describe('lease simulator', () => {
  void it(`never attaches a VDI read-write on two hosts over ${SCHEDULES} seeded schedules`, async (t) => {
    const total = { starts: 0, refusedHeld: 0, refusedStale: 0, takeovers: 0, lostLeases: 0, adopted: 0 };
    for (let seed = 1; seed <= SCHEDULES; seed++) {
      const r = await new LeaseSim(seed).run(LEASE_SIM_EVENTS);
      if (r.violation !== undefined) {
        const replay = await new LeaseSim(seed, true).run(LEASE_SIM_EVENTS);
        assert.fail(
          `seed ${seed}: ${r.violation}\nreplay: npm run sim -- --lease --seed ${seed}\n` +
            replay.trace.slice(-25).join('\n'),
        );
      }
      for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += r[k];
    }
    t.diagnostic(JSON.stringify(total));
    // The schedules must exercise what they claim: VMs started, refused while held, taken over by
    // another host after a silent holder's lease ran out, leases lost by their holder, domains
    // re-adopted after a restart, and takers refused for an older epoch.
    for (const k of Object.keys(total) as (keyof typeof total)[])
      assert.ok(total[k] > 0, `no ${k} in any schedule`);
  });
});
