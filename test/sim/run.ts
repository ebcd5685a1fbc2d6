// `npm run sim -- --seed S [--hosts N] [--steps K]`: replays one simulator schedule and prints its
// trace and verdict; `--lease` replays a schedule of the disk lease simulator instead. The
// defaults are the ones `npm test` uses, so a failing seed replays exactly.
import { ClusterSim, hostsFor, SIM_STEPS } from './cluster-sim.js';
import { LEASE_SIM_EVENTS, LeaseSim } from './lease-sim.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const seed = arg('seed', 1);
if (process.argv.includes('--lease')) {
  const l = await new LeaseSim(seed, true).run(arg('steps', LEASE_SIM_EVENTS));
  for (const line of l.trace) console.log(line);
  console.log(JSON.stringify({ seed, ...l, trace: undefined, violation: l.violation ?? null }));
  process.exit(l.violation === undefined ? 0 : 1);
}
const hosts = arg('hosts', hostsFor(seed));
const r = new ClusterSim(seed, hosts).run(arg('steps', SIM_STEPS));
for (const line of r.trace) console.log(line);
console.log(
  JSON.stringify({
    seed,
    hosts,
    steps: r.steps,
    writes: r.writes,
    acked: r.acked,
    promotions: r.promotions,
    deadReports: r.deadReports,
    liveReports: r.liveReports,
    staleDemotions: r.staleDemotions,
    degradedEntries: r.degradedEntries,
    degradedAcks: r.degradedAcks,
    forcedExclusions: r.forcedExclusions,
    forcedReturns: r.forcedReturns,
    reducedAcks: r.reducedAcks,
    thinAcks: r.thinAcks,
    refusedLacking: r.refusedLacking,
    refusedLackingDegraded: r.refusedLackingDegraded,
    forcedGiveUps: r.forcedGiveUps,
    violation: r.violation ?? null,
  }),
);
process.exitCode = r.violation === undefined ? 0 : 1;
