// Preloaded into the daemons of `BENCH_JOIN_PROFILE=1` runs (NODE_OPTIONS=--import=…, since Node 20
// refuses --cpu-prof there): samples the whole process with the inspector's profiler and writes
// POOLSTACK_BENCH_PROFILE_DIR/<pid>.cpuprofile when the process exits. Sample timestamps are
// CLOCK_MONOTONIC microseconds, the clock of process.hrtime, so a window the benchmark printed
// can be cut out of the profile.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.POOLSTACK_BENCH_PROFILE_DIR;
if (dir !== undefined && dir !== '') {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  process.once('exit', () => {
    // A session in the same thread answers synchronously, so this runs before the process ends.
    session.post('Profiler.stop', (err, res) => {
      if (err === null) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
