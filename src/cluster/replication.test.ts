// Proves the replication building blocks directly: quorum sizes per mode, the prefix test that
// decides log versus snapshot, unique epochs per host slot, member log matching on (epoch, gen),
// quorum acknowledgement on the master, and the promotion refusals.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkPromotion,
  EPOCH_SLOTS,
  isPrefix,
  MasterReplicator,
  MemberReplica,
  nextEpoch,
  quorumSize,
} from './replication.js';

describe('replication', () => {
  it('sizes quorums by mode', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => quorumSize('majority', n)),
      [1, 2, 2, 3, 3],
    );
    assert.equal(quorumSize('all', 3), 3);
    assert.equal(quorumSize('async', 3), 1);
  });

  it('recognises prefixes of the epoch history', () => {
    const starts = [
      { epoch: 1, startGen: 1 },
      { epoch: 1025, startGen: 10 },
    ];
    assert.equal(isPrefix(starts, 1, 9), true);
    assert.equal(isPrefix(starts, 1, 10), false, 'a tail beyond the fork was never kept');
    assert.equal(isPrefix(starts, 1025, 50), true);
    assert.equal(isPrefix(starts, 2050, 3), false, 'an unknown epoch is not ours');
  });

  it('gives each host its own epochs, above all seen', () => {
    const a = nextEpoch([1, 1025], 3);
    const b = nextEpoch([1, 1025], 4);
    assert.ok(a > 1025 && b > 1025 && a !== b);
    assert.equal(a % EPOCH_SLOTS, 3);
    assert.throws(() => nextEpoch([1], EPOCH_SLOTS));
  });

  it('appends only entries that follow the last applied (epoch, gen)', () => {
    const m = new MemberReplica(1, 5, 1);
    const e = (epoch: number, gen: number, prevEpoch: number, prevGen: number) => ({
      epoch,
      gen,
      prevEpoch,
      prevGen,
      changes: null,
    });
    assert.equal(m.receive(1, [e(1, 6, 1, 5), e(1, 8, 1, 6)]).kind, 'apply');
    assert.equal(m.receive(1, [e(1, 7, 1, 6)]).kind, 'resync', 'a gap');
    assert.equal(m.receive(1025, [e(1025, 6, 1025, 5)]).kind, 'resync', 'same gen, other epoch');
    assert.equal(m.receive(1, [e(1, 3, 1, 2)]).kind, 'ignore');
    m.epoch = 2050;
    assert.deepEqual(m.receive(1025, [e(1025, 6, 1, 5)]), { kind: 'stale', epoch: 2050 });
  });

  it('acknowledges a write once a majority holds it, and not before', () => {
    const master = new MasterReplicator<string>('a', 1, 0, 1, ['a', 'b', 'c'], 'majority', 100);
    master.connect('b', 1, 0, [{ epoch: 1, startGen: 1 }]);
    master.connect('c', 1, 0, [{ epoch: 1, startGen: 1 }]);
    const sent = master.commit(1, 'w1');
    assert.deepEqual(sent.map((a) => a.kind).sort(), ['send', 'send']);
    assert.equal(master.acknowledgedGen, 0);
    assert.deepEqual(master.ack('b', 1, 1), [{ kind: 'acknowledge', upToGen: 1 }]);
    assert.deepEqual(master.ack('c', 99, 1), [], 'acks of another epoch do not count');
  });

  it('sends a snapshot to a host with a tail the pool never kept', () => {
    const master = new MasterReplicator<string>('a', 1025, 9, 1, ['a', 'b'], 'majority', 100);
    const starts = [
      { epoch: 1, startGen: 1 },
      { epoch: 1025, startGen: 10 },
    ];
    assert.deepEqual(master.connect('b', 1, 12, starts), [{ kind: 'snapshot', to: 'b' }]);
  });

  it('refuses promotion while the master answers or a reachable host is newer', () => {
    const me = { id: 'b', epoch: 1, gen: 10 };
    assert.equal(checkPromotion(me, true, []).ok, false);
    const r = checkPromotion(me, false, [{ id: 'c', epoch: 1, gen: 11 }]);
    assert.equal(r.ok, false);
    assert.match(r.reason, /host c holds a newer database/);
    assert.equal(checkPromotion(me, false, [{ id: 'c', epoch: 1, gen: 10 }]).ok, true);
  });
});
