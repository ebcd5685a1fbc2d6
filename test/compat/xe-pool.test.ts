// Proves xe's pool commands against real poolstackd processes: xapi's help, warnings, prompts and texts; refusals (bad join, ejecting or forgetting the master, a member told to take over while its master answers) that change nothing; members refusing ordinary commands with HOST_IS_SLAVE while answering the local emergency commands; and a three-host pool built, re-mastered, shrunk and recovered with xe alone.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errors } from '../../src/model/errors.js';
import {
  freePort,
  startDaemonProcess,
  TEST_PASSWORD,
  waitFor,
  type DaemonHandle,
} from '../../src/testing/daemon-process.js';
import { checkGolden, finish, tracker, transcript, Xe, type XeResult } from './xe-helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SLAVE_DOC =
  'You cannot make regular API calls directly on a supporter. Please pass API calls via the coordinator host.';
const ALREADY_MASTER = "Host agent is already master. Use '--force' to execute the operation anyway.\n";
const EJECT_WARNINGS =
  "WARNING: Ejecting a host from the pool will reinitialise that host's local SRs.\n" +
  'WARNING: Any data contained with the local SRs will be lost.\n';
const FORGET_WARNINGS =
  'WARNING: A host should only be forgotten if it is physically unrecoverable;\n' +
  "WARNING: if possible, Hosts should be 'ejected' from the Pool instead.\n" +
  'WARNING: Once a host has been forgotten it will have to be re-installed.\n' +
  'WARNING: This operation is irreversible.\n';
const DECLARE_DEAD_WARNINGS =
  'WARNING: A host should only be declared dead if it is verified offline.\n' +
  'WARNING: Performing this operation if the host is still online and has any\n' +
  'WARNING: running VMs may lead to possible data loss and/or corruption.\n';
const POOL_COMMANDS = [
  'pool-join',
  'pool-eject',
  'host-forget',
  'host-declare-dead',
  'pool-designate-new-master',
  'pool-sync-database',
  'pool-emergency-transition-to-master',
  'pool-emergency-reset-master',
  'pool-recover-slaves',
  'host-is-in-emergency-mode',
];

/** How a standalone host names another on the same address: with its port. */
const withPort = (d: DaemonHandle) => `${d.address}:${d.port}`;

function failed(r: XeResult): void {
  assert.equal(r.code, 1, `xe ${r.args.join(' ')} should fail; stdout: ${r.stdout}`);
}

/** What a host's own database says: its pool's master and its hosts, by uuid. */
async function poolView(xe: Xe): Promise<{ master: string; hosts: string[] }> {
  const master = (await xe.ok(['pool-list', 'params=master', '--minimal'])).trim();
  return { master, hosts: (await xe.minimal(['host-list'])).sort() };
}

describe('xe pool commands on standalone hosts', { timeout: 120_000 }, () => {
  let a: DaemonHandle | undefined;
  let b: DaemonHandle | undefined;
  let xa: Xe | undefined;
  let xb: Xe | undefined;
  const { failed: anyFailed, track } = tracker();
  let hostA = '';

  before(async () => {
    [a, b] = await Promise.all([
      startDaemonProcess({ name: 'xe-pool-a' }),
      startDaemonProcess({ name: 'xe-pool-b' }),
    ]);
    [xa, xb] = [new Xe(a), new Xe(b)];
    hostA = (await xa.ok(['host-list', '--minimal'])).trim();
  });

  after(async () => {
    xa?.cleanup();
    xb?.cleanup();
    await Promise.all([finish(a, 'xe-pool-a', anyFailed()), finish(b, 'xe-pool-b', anyFailed())]);
  });

  it(
    "prints xapi's help for each pool command and lists them all",
    track(async () => {
      assert.ok(xa);
      checkGolden('pool-commands-help', transcript(await xa.run(['help', ...POOL_COMMANDS])));
      const all = await xa.ok(['help', '--all', '--minimal']);
      for (const c of POOL_COMMANDS) assert.ok(all.trim().split(',').includes(c), `${c} in xe help --all`);
    }),
  );

  it(
    'says a standalone host is not in emergency mode, and that it is already master',
    track(async () => {
      assert.ok(xa);
      assert.equal(await xa.ok(['host-is-in-emergency-mode']), 'false\n');
      // A message (xapi's PMsg): --minimal leaves it out, leaving xe's one empty line.
      assert.equal(await xa.ok(['host-is-in-emergency-mode', '--minimal']), '\n');
      const before = await poolView(xa);
      assert.equal(await xa.ok(['pool-emergency-transition-to-master']), ALREADY_MASTER);
      assert.deepEqual(await poolView(xa), before);
      assert.equal(before.master, hostA);
    }),
  );

  it(
    'shows the pool and host replication fields, and keeps the host certificate out of listings',
    track(async () => {
      assert.ok(xa);
      const pool = (await xa.ok(['pool-list', '--minimal'])).trim();
      const poolText = await xa.ok(['pool-param-list', `uuid=${pool}`]);
      assert.match(poolText, /^ +epoch \( RO\): \d+$/m);
      assert.match(poolText, /^ +replication-mode \( RW\): majority$/m);
      assert.match(poolText, /^ +replication-degraded \( RO\): false$/m);
      const hostText = await xa.ok(['host-param-list', `uuid=${hostA}`]);
      assert.match(hostText, /^ +epoch-slot \( RO\): \d+$/m);
      assert.match(hostText, /^ +replica-generation \( RO\): \d+$/m);
      assert.match(hostText, /^ +replica-lag \( RO\): \d+\.\d{3}$/m);
      assert.doesNotMatch(hostText, /server-certificate|BEGIN CERTIFICATE/);
      assert.doesNotMatch(await xa.ok(['host-list', 'params=all']), /server-certificate|BEGIN CERTIFICATE/);
      assert.doesNotMatch(await xa.ok(['help', 'host-list']), /server-certificate/);
      const pem = await xa.ok(['host-param-get', `uuid=${hostA}`, 'param-name=server-certificate']);
      assert.match(pem, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n+$/);
      await xa.ok(['pool-param-set', `uuid=${pool}`, 'replication-mode=all']);
      assert.equal(await xa.ok(['pool-param-get', `uuid=${pool}`, 'param-name=replication-mode']), 'all\n');
      await xa.ok(['pool-param-set', `uuid=${pool}`, 'replication-mode=majority']);
    }),
  );

  it(
    'refuses to join an unreachable master or with a wrong password, and changes nothing',
    track(async () => {
      assert.ok(xa && xb && a);
      const [viewA, viewB] = [await poolView(xa), await poolView(xb)];
      const nobody = `127.0.0.1:${await freePort()}`;
      const unreachable = await xb.run([
        'pool-join',
        `master-address=${nobody}`,
        'master-username=root',
        `master-password=${TEST_PASSWORD}`,
      ]);
      failed(unreachable);
      assert.equal(unreachable.stdout, '');
      assert.equal(
        unreachable.stderr,
        'Host cannot contact destination host: connection refused.\n' +
          'Check destination host has services running and accessible from this host.\n',
      );
      const wrong = await xb.run([
        'pool-join',
        `master-address=${withPort(a)}`,
        'master-username=root',
        'master-password=not-the-password',
      ]);
      failed(wrong);
      assert.equal(wrong.stdout, '');
      assert.match(wrong.stderr, /^The credentials given by the user are incorrect\.\nuname: root\n/);
      assert.deepEqual(await poolView(xa), viewA);
      assert.deepEqual(await poolView(xb), viewB);
      assert.equal(await xb.ok(['host-is-in-emergency-mode']), 'false\n');
    }),
  );

  it(
    "asks for 'yes' before pool-eject, host-forget and host-declare-dead, and refuses them on the master",
    track(async () => {
      assert.ok(xa);
      // A VDI on the host's local SR: pool-eject names it among the objects it would destroy.
      const sr = (await xa.minimal(['pbd-list', `host-uuid=${hostA}`, 'params=sr-uuid']))[0];
      assert.ok(sr !== undefined && UUID.test(sr), `the host's local SR, got ${String(sr)}`);
      const vdi = (
        await xa.ok(['vdi-create', `sr-uuid=${sr}`, 'name-label=precious', 'virtual-size=1MiB'])
      ).trim();
      const view = await poolView(xa);
      const eject = await xa.run(['pool-eject', `host-uuid=${hostA}`], { stdin: 'no\n' });
      assert.equal(eject.code, 0);
      assert.equal(
        eject.stdout,
        EJECT_WARNINGS +
          'The following VDI objects will be destroyed:\n' +
          `VDI: ${vdi} (precious)\n` +
          "Type 'yes' to continue\n" +
          "Aborted (you typed: 'no')\n",
      );
      const forget = await xa.run(['host-forget', `uuid=${hostA}`]);
      assert.equal(forget.code, 0);
      assert.equal(forget.stdout, FORGET_WARNINGS + "Type 'yes' to continue\nAborted (you typed: '')\n");
      const dead = await xa.run(['host-declare-dead', `uuid=${hostA}`], { stdin: 'No\n' });
      assert.equal(dead.code, 0);
      assert.equal(
        dead.stdout,
        DECLARE_DEAD_WARNINGS + "Type 'yes' to continue\nAborted (you typed: 'No')\n",
      );
      // Saying yes (or --force) reaches the API, which will not remove the master.
      const ejectYes = await xa.run(['pool-eject', `host-uuid=${hostA}`], { stdin: 'yes\n' });
      failed(ejectYes);
      assert.match(ejectYes.stdout, /Type 'yes' to continue\n$/);
      assert.notEqual(ejectYes.stderr, '');
      failed(await xa.run(['host-forget', `uuid=${hostA}`, '--force']));
      failed(await xa.run(['host-declare-dead', `uuid=${hostA}`, '--force']));
      assert.deepEqual(await poolView(xa), view);
      assert.equal(
        await xa.ok(['host-param-get', `uuid=${hostA}`, 'param-name=enabled']),
        'true\n',
        'declare-dead refused: the host stays enabled',
      );
      const missing = await xa.run(['pool-eject', 'host-uuid=00000000-0000-0000-0000-000000000000']);
      failed(missing);
      assert.equal(missing.stdout, '', 'an unknown host is refused before any warning');
      await xa.ok(['vdi-destroy', `uuid=${vdi}`]);
    }),
  );

  it(
    'recovers no members and syncs the database of a one-host pool',
    track(async () => {
      assert.ok(xa);
      assert.equal(await xa.ok(['pool-recover-slaves']), '');
      assert.equal(await xa.ok(['pool-sync-database']), '');
      assert.equal(await xa.ok(['pool-designate-new-master', `host-uuid=${hostA}`]), '');
      assert.equal((await poolView(xa)).master, hostA);
    }),
  );
});

describe('xe builds, re-masters, shrinks and recovers a three-host pool', { timeout: 240_000 }, () => {
  const daemons: DaemonHandle[] = [];
  const xes: Xe[] = [];
  const hosts: string[] = [];
  const { failed: anyFailed, track } = tracker();

  before(async () => {
    // Hosts of a pool share one API port and differ by address (docs/replication.md), so each
    // gets its own loopback address. A short dead-after keeps the dead-host steps quick.
    const port = String(await freePort());
    const started = await Promise.all(
      ['a', 'b', 'c'].map((n, i) =>
        startDaemonProcess({
          name: `xe-pool3-${n}`,
          address: `127.0.0.${i + 1}`,
          extraArgs: ['--port', port, '--heartbeat-interval-ms', '500', '--dead-after-ms', '4000'],
        }),
      ),
    );
    daemons.push(...started);
    for (const d of daemons) {
      const xe = new Xe(d);
      xes.push(xe);
      hosts.push((await xe.ok(['host-list', '--minimal'])).trim());
    }
  });

  after(async () => {
    for (const xe of xes) xe.cleanup();
    await Promise.all(daemons.map((d, i) => finish(d, `xe-pool3-${'abc'[i] ?? i}`, anyFailed())));
  });

  const d = (i: number) => daemons[i] as DaemonHandle;
  const x = (i: number) => xes[i] as Xe;
  const h = (i: number) => hosts[i] as string;
  const slaveError = (master: number) => `${SLAVE_DOC}\nMaster IP address: ${d(master).address}\n`;
  const join = (i: number, master: number) =>
    x(i).run([
      'pool-join',
      `master-address=${d(master).address}`,
      'master-username=root',
      `master-password=${TEST_PASSWORD}`,
    ]);

  /** xe against a member: the login is refused with HOST_IS_SLAVE naming the master's address. */
  async function assertMemberOf(member: number, master: number): Promise<void> {
    const r = await x(member).run(['vm-list']);
    failed(r);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, slaveError(master));
    // The local (Neverforward) commands still answer on a member.
    assert.equal(await x(member).ok(['host-is-in-emergency-mode']), 'false\n');
  }

  it(
    'joins two hosts to the first with pool-join',
    track(async () => {
      for (const i of [1, 2]) {
        const r = await join(i, 0);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, '', 'pool-join prints nothing: no agent restart to announce');
        assert.equal(r.stderr, '');
        await assertMemberOf(i, 0);
      }
      const view = await poolView(x(0));
      assert.equal(view.master, h(0));
      assert.deepEqual(view.hosts, [...hosts].sort());
      const again = await join(1, 0);
      failed(again);
      assert.equal(again.stderr, slaveError(0));
    }),
  );

  it(
    'refuses an emergency transition on a member whose master answers; syncs and recovers members',
    track(async () => {
      const r = await x(1).run(['pool-emergency-transition-to-master']);
      failed(r);
      assert.equal(r.stdout, '');
      assert.ok(
        r.stderr.startsWith('The pool coordinator still answers, so an emergency transition '),
        r.stderr,
      );
      assert.ok(r.stderr.endsWith(`\nmaster: ${d(0).address}\n`), r.stderr);
      await assertMemberOf(1, 0);
      assert.equal(await x(0).ok(['pool-sync-database']), '');
      // Every member answers: each is told to follow this master, and named.
      const recovered = (await x(0).ok(['pool-recover-slaves'])).split('\n');
      assert.equal(recovered.pop(), '');
      assert.deepEqual(recovered.sort(), [h(1), h(2)].sort());
    }),
  );

  it(
    'hands the master role to the second host with pool-designate-new-master',
    track(async () => {
      assert.equal(await x(0).ok(['pool-designate-new-master', `host-uuid=${h(1)}`]), '');
      // Done when the command returns: no restart to wait for.
      const view = await poolView(x(1));
      assert.equal(view.master, h(1));
      assert.deepEqual(view.hosts, [...hosts].sort());
      await assertMemberOf(0, 1);
      await assertMemberOf(2, 1);
      assert.equal(await x(1).ok(['pool-emergency-transition-to-master']), ALREADY_MASTER);
    }),
  );

  it(
    'ejects the third host, which comes back at once as the master of its own pool',
    track(async () => {
      const out = await x(1).ok(['pool-eject', `host-uuid=${h(2)}`, '--force']);
      assert.equal(out, 'Specified host is now a master of a new pool.\n');
      assert.deepEqual((await poolView(x(1))).hosts, [h(0), h(1)].sort());
      const alone = await poolView(x(2));
      assert.equal(alone.hosts.length, 1);
      assert.equal(alone.master, alone.hosts[0]);
      assert.ok(!hosts.includes(alone.master), 'the ejected host starts afresh, with a new identity');
      assert.equal(await x(2).ok(['pool-emergency-transition-to-master']), ALREADY_MASTER);
    }),
  );

  it(
    'takes over from a dead master with --force, and brings the old master back as a member',
    track(async () => {
      await d(1).kill();
      // Two hosts, one reachable: no majority, so the member refuses until told --force.
      const refused = await x(0).run(['pool-emergency-transition-to-master']);
      failed(refused);
      assert.equal(refused.stderr, `${errors.POOL_QUORUM_UNREACHABLE.doc}\nneeded: 2\nreachable: 1\n`);
      assert.equal(await x(0).ok(['host-is-in-emergency-mode']), 'true\n', 'its master is gone');
      assert.equal(
        await x(0).ok(['pool-emergency-transition-to-master', '--force']),
        'Host agent is now master.\n',
      );
      const view = await poolView(x(0));
      assert.equal(view.master, h(0));
      assert.deepEqual(view.hosts, [h(0), h(1)].sort());
      // The old master comes back (same address and port), finds the newer epoch and follows;
      // pool-emergency-reset-master, a local command, says so again on it.
      x(1).cleanup();
      daemons[1] = await d(1).restart();
      xes[1] = new Xe(d(1));
      await waitFor('the old master to follow the new one', 30_000, async () => {
        const r = await x(1).run(['vm-list']);
        return r.code === 1 && r.stderr === slaveError(0) ? r : undefined;
      });
      assert.equal(
        await x(1).ok(['pool-emergency-reset-master', `master-address=${d(0).address}`]),
        `Host agent is now a slave of ${d(0).address}.\n`,
      );
      // It was following that master already (xapi: then a no-op); it must stay connected, not
      // fall into emergency mode: five answers in a row over 2 s, well past a heartbeat.
      await waitFor('the member to stay connected to its master', 30_000, async () => {
        for (let i = 0; i < 5; i++) {
          if ((await x(1).run(['host-is-in-emergency-mode'])).stdout !== 'false\n') return undefined;
          await new Promise((r) => setTimeout(r, 500));
        }
        return true;
      });
      await assertMemberOf(1, 0);
      // Writes need a majority of the pool connected again (docs/replication.md).
      await waitFor('the new master to hold a quorum', 30_000, async () => {
        const r = await x(0).run(['pool-sync-database']);
        return r.code === 0 ? r : undefined;
      });
      assert.equal(await x(0).ok(['pool-recover-slaves']), `${h(1)}\n`);
    }),
  );

  it(
    "declares a dead member dead and forgets it once told 'yes'",
    track(async () => {
      await d(1).kill();
      // Refused (HOST_IS_LIVE, or no quorum) until the master has found the member dead.
      await waitFor('the master to find the member dead', 30_000, async () => {
        const r = await x(0).run(['host-declare-dead', `uuid=${h(1)}`, '--force']);
        return r.code === 0 ? r : undefined;
      });
      assert.equal(await x(0).ok(['host-param-get', `uuid=${h(1)}`, 'param-name=enabled']), 'false\n');
      const forget = await x(0).run(['host-forget', `uuid=${h(1)}`], { stdin: 'yes\n' });
      assert.equal(forget.code, 0, forget.stderr);
      assert.equal(forget.stdout, FORGET_WARNINGS + "Type 'yes' to continue\n");
      assert.deepEqual(await poolView(x(0)), { master: h(0), hosts: [h(0)] });
    }),
  );
});
