// Proves that a VM's whole life — install from a template, start, suspend, resume, shut down, uninstall with its disk — can be driven with the real xe binary alone against a real poolstackd, with xe's texts for vm-reset-powerstate without --force, vm-uninstall's listing and prompt, a prompt event-wait, and the connection taken from XE_EXTRA_ARGS or ~/.xe instead of the command line.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDaemonProcess, TEST_PASSWORD, type DaemonHandle } from '../../src/testing/daemon-process.js';
import { finish, tracker, Xe } from './xe-helpers.js';

const SUITE_TIMEOUT_MS = 120_000;
const VM = 'lifecycle-vm';

describe('a VM lifecycle with xe alone', { timeout: SUITE_TIMEOUT_MS }, () => {
  let daemon: DaemonHandle | undefined;
  let xe: Xe | undefined;
  const { failed, track } = tracker();
  let vm = '';
  let vdi = '';

  before(async () => {
    daemon = await startDaemonProcess({ name: 'xe-lifecycle' });
    xe = new Xe(daemon);
  });

  after(async () => {
    xe?.cleanup();
    await finish(daemon, 'xe-lifecycle', failed());
  });

  async function powerState(): Promise<string> {
    assert.ok(xe);
    return (await xe.ok(['vm-param-get', `uuid=${vm}`, 'param-name=power-state'])).trim();
  }

  it(
    'vm-install prints the new uuid; the VM has a disk',
    track(async () => {
      assert.ok(xe);
      const out = await xe.ok(['vm-install', 'template=Debian Bookworm 12', `new-name-label=${VM}`]);
      assert.match(out, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n$/);
      vm = out.trim();
      assert.deepEqual(await xe.minimal(['vm-list', `name-label=${VM}`]), [vm]);
      const disks = await xe.minimal(['vbd-list', `vm-uuid=${vm}`, 'type=Disk', 'params=vdi-uuid']);
      assert.equal(disks.length, 1, 'the template provisions one disk');
      vdi = disks[0] ?? '';
      assert.deepEqual(await xe.minimal(['vdi-list', `uuid=${vdi}`]), [vdi]);
      assert.equal(await powerState(), 'halted');
    }),
  );

  it(
    'vm-reset-powerstate without --force refuses, in xe words',
    track(async () => {
      assert.ok(xe);
      const r = await xe.run(['vm-reset-powerstate', `vm=${VM}`]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.equal(
        r.stderr,
        'Error: This operation is dangerous and may cause data loss. This operation must be forced (use --force).\n',
      );
    }),
  );

  it(
    'vm-start, vm-suspend, vm-resume and vm-shutdown move the power state',
    track(async () => {
      assert.ok(xe);
      const steps: [string, string][] = [
        ['vm-start', 'running'],
        ['vm-suspend', 'suspended'],
        ['vm-resume', 'running'],
        ['vm-shutdown', 'halted'],
      ];
      for (const [verb, state] of steps) {
        assert.equal(await xe.ok([verb, `vm=${VM}`]), '', `${verb} prints nothing`);
        assert.equal(await powerState(), state, `after ${verb}`);
      }
    }),
  );

  it(
    'event-wait returns at once when the condition already holds',
    track(async () => {
      assert.ok(xe);
      const started = Date.now();
      const r = await xe.run(['event-wait', 'class=vm', `name-label=${VM}`, 'power-state=halted'], {
        timeoutMs: 10_000,
      });
      assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
      assert.ok(Date.now() - started < 5_000, 'event-wait returned promptly');
    }),
  );

  it(
    'takes the connection from XE_EXTRA_ARGS when the command line has none',
    track(async () => {
      assert.ok(xe && daemon);
      const extra = `server=${daemon.address},port=${daemon.httpPort},nossl=true,password=${TEST_PASSWORD}`;
      const r = await xe.run(['vm-list', `name-label=${VM}`, '--minimal'], {
        bare: true,
        env: { XE_EXTRA_ARGS: extra },
      });
      assert.deepEqual([r.code, r.stdout, r.stderr], [0, `${vm}\n`, '']);
      // The command line wins over XE_EXTRA_ARGS.
      const wrong = `server=${daemon.address},port=${daemon.httpPort},nossl=true,password=wrong`;
      const r2 = await xe.run(['vm-list', `name-label=${VM}`, '--minimal'], {
        env: { XE_EXTRA_ARGS: wrong },
      });
      assert.deepEqual([r2.code, r2.stdout], [0, `${vm}\n`]);
    }),
  );

  it(
    'takes the connection from ~/.xe when neither the command line nor XE_EXTRA_ARGS has one',
    track(async () => {
      assert.ok(xe && daemon);
      const home = mkdtempSync(join(tmpdir(), 'xe-rc-'));
      try {
        writeFileSync(
          join(home, '.xe'),
          `server=${daemon.address}\nport=${daemon.httpPort}\npassword=${TEST_PASSWORD}\nnossl=true\n`,
        );
        const r = await xe.run(['vm-list', `name-label=${VM}`, '--minimal'], {
          bare: true,
          env: { HOME: home },
        });
        assert.deepEqual([r.code, r.stdout, r.stderr], [0, `${vm}\n`, '']);
        // XE_EXTRA_ARGS wins over ~/.xe.
        const r2 = await xe.run(['vm-list', '--minimal'], {
          bare: true,
          env: { HOME: home, XE_EXTRA_ARGS: 'password=wrong' },
        });
        assert.equal(r2.code, 1);
        assert.equal(r2.stderr, "Authentication failed\nFor usage run: 'xe help'\n");
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    }),
  );

  it(
    'vm-uninstall without --force asks, and anything but yes aborts',
    track(async () => {
      assert.ok(xe);
      const vdiName = (await xe.ok(['vdi-param-get', `uuid=${vdi}`, 'param-name=name-label'])).trim();
      const r = await xe.run(['vm-uninstall', `vm=${VM}`], { stdin: 'no\n' });
      assert.equal(r.code, 0);
      assert.equal(
        r.stdout,
        'The following items are about to be destroyed\n' +
          `VM : ${vm} (${VM})\n` +
          `VDI: ${vdi} (${vdiName}) \n` +
          "Type 'yes' to continue\n" +
          "Aborted (you typed: 'no')\n",
      );
      assert.deepEqual(await xe.minimal(['vm-list', `name-label=${VM}`]), [vm], 'nothing destroyed');
    }),
  );

  it(
    'vm-uninstall --force destroys the VM and its disk',
    track(async () => {
      assert.ok(xe);
      const vdiName = (await xe.ok(['vdi-param-get', `uuid=${vdi}`, 'param-name=name-label'])).trim();
      const out = await xe.ok(['vm-uninstall', `vm=${VM}`, '--force']);
      assert.equal(
        out,
        'The following items are about to be destroyed\n' +
          `VM : ${vm} (${VM})\n` +
          `VDI: ${vdi} (${vdiName}) \n` +
          'All objects destroyed\n',
      );
      assert.equal(await xe.ok(['vm-list', `name-label=${VM}`, '--minimal']), '\n');
      assert.equal(await xe.ok(['vdi-list', `uuid=${vdi}`, '--minimal']), '\n');
    }),
  );
});
