// Proves the simulated hypervisor's lifecycle and error codes, that its domains survive a daemon
// restart, that suspend images round-trip and bad ones are refused, and that failpoints fire once.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Clock } from '../../../base/clock.js';
import { BugError } from '../../../base/assert.js';
import { DriverError, type DomainSpec } from '../driver.js';
import { SimHypervisor } from './sim-driver.js';

const T0 = Date.UTC(2024, 0, 1);

function fakeClock(): Clock & { t: number } {
  const c = {
    t: T0,
    now: () => c.t,
    monotonic: () => c.t - T0,
    setTimeout: () => ({}),
    clearTimeout: () => undefined,
  };
  return c;
}

const GiB = 1024 ** 3;
const U1 = '11111111-1111-4111-8111-111111111111';
const U2 = '22222222-2222-4222-8222-222222222222';
const U3 = '33333333-3333-4333-8333-333333333333';

function spec(uuid: string, memoryBytes = 1 * GiB): DomainSpec {
  return {
    uuid,
    name: `vm-${uuid.slice(0, 4)}`,
    memoryBytes,
    vcpus: 2,
    disks: [{ device: 'xvda', path: `/srs/local/${uuid}.img`, mode: 'RW', type: 'Disk' }],
    nics: [{ device: '0', mac: '02:00:00:00:00:01', bridge: 'xenbr0' }],
  };
}

function code(c: DriverError['code']) {
  return (e: unknown) => e instanceof DriverError && e.code === c;
}

void describe('SimHypervisor', () => {
  let dir: string;
  let clock: ReturnType<typeof fakeClock>;
  let hv: SimHypervisor;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'poolstack-sim-'));
    clock = fakeClock();
    hv = new SimHypervisor({ stateDir: path.join(dir, 'state'), clock });
  });

  afterEach(async () => {
    await hv.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  void it('reports host info with defaults and overrides', async () => {
    const info = await hv.host.info();
    assert.equal(info.cpuCount, 4);
    assert.equal(info.cpuVendor, 'GenuineIntel');
    assert.equal(info.cpuModel, 'Poolstack Simulated CPU');
    assert.equal(info.memoryTotalBytes, 16 * GiB);
    assert.equal(info.dom0MemoryBytes, 1 * GiB);
    const other = new SimHypervisor({
      stateDir: path.join(dir, 'other'),
      clock,
      hostInfo: { cpuCount: 32, hostname: 'h2' },
    });
    const info2 = await other.host.info();
    assert.equal(info2.cpuCount, 32);
    assert.equal(info2.hostname, 'h2');
    assert.equal(info2.cpuVendor, 'GenuineIntel');
    await other.close();
  });

  void it('runs a domain through create, pause, unpause, reboot and shutdown', async () => {
    const created = await hv.vm.create(spec(U1), { paused: false });
    assert.deepEqual(created, {
      uuid: U1,
      domid: 1,
      state: 'running',
      memoryBytes: 1 * GiB,
      vcpus: 2,
      startedAtMs: T0,
    });
    assert.deepEqual(await hv.vm.get(U1), created);
    assert.equal((await hv.vm.pause(U1)).state, 'paused');
    assert.equal((await hv.vm.unpause(U1)).state, 'running');
    clock.t += 5000;
    const rebooted = await hv.vm.reboot(U1, { clean: true });
    assert.equal(rebooted.domid, 2);
    assert.equal(rebooted.uuid, U1);
    assert.equal(rebooted.startedAtMs, T0 + 5000);
    await hv.vm.shutdown(U1, { clean: true });
    assert.equal(await hv.vm.get(U1), undefined);
    assert.deepEqual(await hv.vm.list(), []);
  });

  void it('creates paused domains and hard-stops paused ones', async () => {
    assert.equal((await hv.vm.create(spec(U1), { paused: true })).state, 'paused');
    assert.equal((await hv.vm.reboot(U1, { clean: false })).state, 'running');
    await hv.vm.pause(U1);
    await hv.vm.shutdown(U1, { clean: false });
    assert.equal(await hv.vm.get(U1), undefined);
  });

  void it('refuses operations in the wrong state or on missing domains', async () => {
    for (const op of [
      () => hv.vm.pause(U1),
      () => hv.vm.unpause(U1),
      () => hv.vm.shutdown(U1, { clean: false }),
      () => hv.vm.reboot(U1, { clean: false }),
      () => hv.vm.suspend(U1, path.join(dir, 'img')),
    ]) {
      await assert.rejects(op(), code('NO_SUCH_DOMAIN'));
    }
    await hv.vm.create(spec(U1), { paused: false });
    await assert.rejects(hv.vm.create(spec(U1), { paused: false }), code('DOMAIN_EXISTS'));
    await assert.rejects(hv.vm.unpause(U1), code('BAD_STATE'));
    await hv.vm.pause(U1);
    await assert.rejects(hv.vm.pause(U1), code('BAD_STATE'));
    await assert.rejects(hv.vm.shutdown(U1, { clean: true }), code('BAD_STATE'));
    await assert.rejects(hv.vm.reboot(U1, { clean: true }), code('BAD_STATE'));
    await assert.rejects(hv.vm.suspend(U1, path.join(dir, 'img')), code('BAD_STATE'));
    // Nothing above changed the domain.
    assert.deepEqual(await hv.vm.list(), [
      { uuid: U1, domid: 1, state: 'paused', memoryBytes: GiB, vcpus: 2, startedAtMs: T0 },
    ]);
  });

  void it('re-discovers domains, domids and start times after a restart', async () => {
    await hv.vm.create(spec(U1), { paused: false });
    clock.t += 1000;
    await hv.vm.create(spec(U2), { paused: true });
    await hv.vm.create(spec(U3), { paused: false });
    await hv.vm.shutdown(U3, { clean: false });
    const before = await hv.vm.list();
    await hv.close();

    hv = new SimHypervisor({ stateDir: path.join(dir, 'state'), clock });
    assert.deepEqual(await hv.vm.list(), before);
    assert.deepEqual(
      before.map((d) => [d.domid, d.state, d.startedAtMs]),
      [
        [1, 'running', T0],
        [2, 'paused', T0 + 1000],
      ],
    );
    // domid 3 was used by a domain destroyed before the restart; it is never handed out again.
    assert.equal((await hv.vm.create(spec(U3), { paused: false })).domid, 4);
    assert.deepEqual(await fs.readdir(path.join(dir, 'state')), ['domains.json']);
  });

  void it('refuses to start over a corrupt domain table', async () => {
    await hv.vm.create(spec(U1), { paused: false });
    await fs.writeFile(path.join(dir, 'state', 'domains.json'), '{"version":1,"nextDomid":');
    assert.throws(() => new SimHypervisor({ stateDir: path.join(dir, 'state'), clock }), code('IO_ERROR'));
  });

  void it('round-trips a domain through suspend and resume', async () => {
    const image = path.join(dir, 'suspend.img');
    await hv.vm.create(spec(U1, 2 * GiB), { paused: false });
    await hv.vm.suspend(U1, image);
    assert.equal(await hv.vm.get(U1), undefined);
    assert.match(await fs.readFile(image, 'utf8'), /^POOLSTACK-SIM-SUSPEND-IMAGE\/1\n\{/);

    clock.t += 60_000;
    const resumed = await hv.vm.resume(spec(U1, 2 * GiB), image, { paused: true });
    assert.deepEqual(resumed, {
      uuid: U1,
      domid: 2,
      state: 'paused',
      memoryBytes: 2 * GiB,
      vcpus: 2,
      startedAtMs: T0 + 60_000,
    });
    await assert.rejects(hv.vm.resume(spec(U1, 2 * GiB), image, { paused: false }), code('DOMAIN_EXISTS'));
  });

  void it('rejects missing, corrupt and mismatched suspend images', async () => {
    const image = path.join(dir, 'suspend.img');
    await assert.rejects(hv.vm.resume(spec(U1), image, { paused: false }), code('IO_ERROR'));
    await fs.writeFile(image, 'not an image at all');
    await assert.rejects(hv.vm.resume(spec(U1), image, { paused: false }), code('IO_ERROR'));
    await fs.writeFile(image, 'POOLSTACK-SIM-SUSPEND-IMAGE/1\n{"uuid":');
    await assert.rejects(hv.vm.resume(spec(U1), image, { paused: false }), code('IO_ERROR'));

    await hv.vm.create(spec(U1), { paused: false });
    await hv.vm.suspend(U1, image);
    await assert.rejects(hv.vm.resume(spec(U2), image, { paused: false }), code('IO_ERROR'));
    await assert.rejects(hv.vm.resume(spec(U1, 4 * GiB), image, { paused: false }), code('IO_ERROR'));
    assert.deepEqual(await hv.vm.list(), []);
    // Suspending to a directory that does not exist fails and leaves the domain running.
    await hv.vm.create(spec(U2), { paused: false });
    await assert.rejects(hv.vm.suspend(U2, path.join(dir, 'nope', 'x.img')), code('IO_ERROR'));
    assert.equal((await hv.vm.get(U2))?.state, 'running');
  });

  void it('fails the next named operation once when a failpoint is set', async () => {
    const injected = new DriverError('IO_ERROR', 'injected');
    hv.failNext('create', injected);
    await assert.rejects(
      hv.vm.list().then(() => hv.vm.create(spec(U1), { paused: false })),
      (e) => e === injected,
    );
    assert.deepEqual(await hv.vm.list(), []);
    // The failed create consumed no domid and the failpoint is spent.
    assert.equal((await hv.vm.create(spec(U1), { paused: false })).domid, 1);
    hv.failNext('pause', new DriverError('BAD_STATE', 'injected'));
    await assert.rejects(hv.vm.pause(U1), code('BAD_STATE'));
    assert.equal((await hv.vm.pause(U1)).state, 'paused');
  });

  void it('serializes concurrent operations without losing updates', async () => {
    const uuids = Array.from(
      { length: 25 },
      (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    );
    const infos = await Promise.all(uuids.map((u) => hv.vm.create(spec(u), { paused: false })));
    assert.deepEqual(
      infos.map((d) => d.domid),
      uuids.map((_, i) => i + 1),
    );
    await Promise.all(
      uuids.map((u, i) => (i % 2 === 0 ? hv.vm.pause(u) : hv.vm.shutdown(u, { clean: true }))),
    );
    await hv.close();
    hv = new SimHypervisor({ stateDir: path.join(dir, 'state'), clock });
    const after = await hv.vm.list();
    assert.equal(after.length, 13);
    assert.ok(after.every((d) => d.state === 'paused'));
  });

  void it('waits for in-flight operations on close and refuses use afterwards', async () => {
    const pending = hv.vm.create(spec(U1), { paused: false });
    await hv.close();
    assert.equal((await pending).domid, 1);
    assert.throws(() => hv.vm.list(), BugError);
  });
});
