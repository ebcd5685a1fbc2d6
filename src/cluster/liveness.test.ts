// Proves member liveness is decided by the observer's clock alone: hosts die after deadAfterMs of
// silence or at once on a clean shutdown, revive on a heartbeat, each transition is reported once,
// a clock that steps back or a skewed sender changes nothing, and membership changes keep state.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultLiveness, Liveness } from './liveness.js';

const config = { heartbeatIntervalMs: 2000, deadAfterMs: 15000 };
const T0 = 1_000_000;

describe('liveness', () => {
  it('starts every host live and keeps the defaults sane', () => {
    const l = new Liveness(defaultLiveness, ['a', 'b'], T0);
    assert.ok(l.isLive('a') && l.isLive('b'));
    assert.equal(l.isLive('unknown'), false);
    assert.ok(defaultLiveness.deadAfterMs > defaultLiveness.heartbeatIntervalMs);
  });

  it('reports a silent host dead once, only after deadAfterMs, and live again on a heartbeat', () => {
    const l = new Liveness(config, ['a', 'b'], T0);
    l.heartbeat('b', T0 + 10_000);
    assert.deepEqual(l.tick(T0 + 15_000), [], 'exactly deadAfterMs old is still live');
    assert.deepEqual(l.tick(T0 + 15_001), [{ host: 'a', live: false }]);
    assert.deepEqual(l.tick(T0 + 20_000), [], 'a transition is reported once');
    assert.equal(l.isLive('a'), false);
    assert.equal(l.isLive('b'), true);
    assert.deepEqual(l.heartbeat('a', T0 + 21_000), [{ host: 'a', live: true }]);
    assert.deepEqual(l.heartbeat('a', T0 + 22_000), [], 'already live: no change');
    assert.deepEqual(l.tick(T0 + 25_001), [{ host: 'b', live: false }]);
  });

  it('never lets the sender clock decide liveness', () => {
    const l = new Liveness(config, ['a'], T0);
    // The sender's clock is a day behind or ahead: only the observer's clock counts.
    l.heartbeat('a', T0 + 1000, T0 - 86_400_000);
    assert.deepEqual(l.tick(T0 + 16_000), []);
    l.heartbeat('a', T0 + 16_000, T0 + 86_400_000);
    assert.deepEqual(l.tick(T0 + 31_000), []);
    assert.deepEqual(l.tick(T0 + 31_001), [{ host: 'a', live: false }]);
  });

  it('estimates skew as sender time minus receiver wall time', () => {
    const l = new Liveness(config, ['a'], T0);
    assert.equal(l.skewMs('a'), undefined);
    l.heartbeat('a', T0 + 1000, T0 + 31_000);
    assert.equal(l.skewMs('a'), 30_000, 'receiver wall time defaults to now');
    // A daemon whose `now` is monotonic passes its wall clock separately.
    l.heartbeat('a', 5, 1_700_000_000_000, 1_700_000_004_000);
    assert.equal(l.skewMs('a'), -4000);
    l.heartbeat('a', T0 + 2000);
    assert.equal(l.skewMs('a'), -4000, 'a sign of life without a time keeps the last estimate');
    assert.equal(l.skewMs('unknown'), undefined);
  });

  it('tolerates now going backwards', () => {
    const l = new Liveness(config, ['a', 'b'], T0);
    l.heartbeat('a', T0 + 10_000);
    // A stale reading must neither age a host (making it dead sooner) nor rejuvenate the clock.
    assert.deepEqual(l.heartbeat('b', T0 + 5_000), []);
    assert.deepEqual(l.tick(T0), []);
    assert.deepEqual(l.tick(T0 + 25_000), []);
    assert.deepEqual(l.tick(T0 + 25_001), [
      { host: 'a', live: false },
      { host: 'b', live: false },
    ]);
    // A heartbeat stamped in the past counts as now: the host is live for a full deadAfterMs.
    assert.deepEqual(l.heartbeat('a', T0), [{ host: 'a', live: true }]);
    assert.deepEqual(l.tick(T0 + 40_001), []);
    assert.deepEqual(l.tick(T0 + 40_002), [{ host: 'a', live: false }]);
  });

  it('makes a host that shuts down cleanly dead at once until it heartbeats again', () => {
    const l = new Liveness(config, ['a'], T0);
    l.heartbeat('a', T0 + 1000);
    assert.deepEqual(l.shuttingDown('a', T0 + 1500), [{ host: 'a', live: false }]);
    assert.deepEqual(l.shuttingDown('a', T0 + 1600), [], 'reported once');
    assert.deepEqual(l.tick(T0 + 2000), []);
    assert.deepEqual(l.tick(T0 + 100_000), [], 'no second death report');
    assert.equal(l.isLive('a'), false);
    assert.deepEqual(l.heartbeat('a', T0 + 100_500), [{ host: 'a', live: true }]);
    assert.deepEqual(l.tick(T0 + 115_500), []);
  });

  it('follows membership changes: new hosts start live, leavers are forgotten, others keep state', () => {
    const l = new Liveness(config, ['a', 'b'], T0);
    l.tick(T0 + 20_000);
    assert.equal(l.isLive('a'), false);
    l.setHosts(['a', 'c'], T0 + 20_000);
    assert.equal(l.isLive('a'), false, 'a stays dead: membership changes are not signs of life');
    assert.equal(l.isLive('b'), false, 'b is no longer watched');
    assert.equal(l.isLive('c'), true);
    assert.deepEqual(l.heartbeat('b', T0 + 21_000), [], 'heartbeats from non-members are ignored');
    assert.deepEqual(l.shuttingDown('b', T0 + 21_000), []);
    assert.deepEqual(l.tick(T0 + 35_000), []);
    assert.deepEqual(l.tick(T0 + 35_001), [{ host: 'c', live: false }]);
  });

  it('refuses configurations that would declare a host dead between two heartbeats', () => {
    assert.throws(() => new Liveness({ heartbeatIntervalMs: 2000, deadAfterMs: 2000 }, [], 0));
    assert.throws(() => new Liveness({ heartbeatIntervalMs: 0, deadAfterMs: 1000 }, [], 0));
    assert.throws(() => new Liveness(config, [], NaN));
  });
});
