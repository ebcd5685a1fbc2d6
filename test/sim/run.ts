// `npm run sim -- --seed S [--hosts N] [--steps K]`: replays one simulator schedule and prints its
// trace and verdict.
import { ClusterSim } from './cluster-sim.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const seed = arg('seed', 1);
const hosts = arg('hosts', seed % 3 === 0 ? 5 : 3);
const r = new ClusterSim(seed, hosts).run(arg('steps', 150));
for (const line of r.trace) console.log(line);
console.log(
  JSON.stringify({
    seed,
    hosts,
    steps: r.steps,
    writes: r.writes,
    acked: r.acked,
    promotions: r.promotions,
    violation: r.violation ?? null,
  }),
);
process.exitCode = r.violation === undefined ? 0 : 1;
