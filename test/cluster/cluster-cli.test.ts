// Proves that `poolstack cluster up` starts a joined three-host pool of detached daemons and prints it as JSON, that a member killed with SIGKILL and restarted with exactly its command line takes its place in the pool again, and that `poolstack cluster down` stops every daemon of the pool.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { XapiCallError, XapiClient } from '../../src/rpc/client.js';
import { freePort, projectRoot, testOutputDir, waitFor } from '../../src/testing/daemon-process.js';

const poolstackJs = join(projectRoot, 'dist', 'src', 'bin', 'poolstack.js');
/** A loopback range other multi-process tests do not use. */
const ADDRESSES = ['127.0.9.2', '127.0.9.3', '127.0.9.4'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const COMMAND_TIMEOUT_MS = 120_000;
const WAIT_MS = 30_000;
const run = promisify(execFile);

interface Host {
  uuid: string;
  address: string;
  port: number;
  httpPort: number;
  pid: number;
  dataDir: string;
  master: boolean;
}
interface Cluster {
  password: string;
  hosts: Host[];
}

/** A port free on every address of the pool. */
async function sharedFreePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const p = await freePort(ADDRESSES[0]);
    const free = await Promise.all(
      ADDRESSES.map((a) =>
        freePort(a).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (free.every(Boolean)) return p;
  }
  throw new Error('no port free on all of ' + ADDRESSES.join(' '));
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  } catch {
    return [];
  }
}

/** Exited, or a zombie nobody reaps (the daemons outlive their parent, `poolstack`). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return /^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** The master's view: every host by address, with its uuid, liveness and replica generation. */
async function poolView(c: Cluster): Promise<Map<string, { uuid: string; live: boolean; gen: number }>> {
  const master = c.hosts[0] as Host;
  const x = new XapiClient(`https://${master.address}:${master.port}`, {
    rejectUnauthorized: false,
    timeoutMs: 5_000,
  });
  try {
    await x.login('root', c.password);
    const hosts = (await x.callSession('host.get_all_records')) as Record<string, Record<string, unknown>>;
    const metrics = (await x.callSession('host_metrics.get_all_records')) as Record<
      string,
      { live: boolean }
    >;
    return new Map(
      Object.values(hosts).map((h) => [
        String(h.address),
        {
          uuid: String(h.uuid),
          live: metrics[String(h.metrics)]?.live === true,
          gen: Number(h.replica_generation),
        },
      ]),
    );
  } finally {
    x.close();
  }
}

/** What a login to `h` answers: 'session', `HOST_IS_SLAVE <master>`, or the failure. */
async function loginAnswer(h: Host, password: string): Promise<string> {
  const x = new XapiClient(`https://${h.address}:${h.port}`, { rejectUnauthorized: false, timeoutMs: 5_000 });
  try {
    await x.login('root', password);
    await x.logout();
    return 'session';
  } catch (e) {
    return e instanceof XapiCallError ? [e.code, ...e.params].join(' ') : String(e);
  } finally {
    x.close();
  }
}

describe('poolstack cluster up/down', { timeout: 240_000 }, () => {
  const dir = testOutputDir('cluster-cli');
  /** Every daemon pid this test caused, with its data dir: stopped by pid if the test fails. */
  const pids = new Map<number, string>();
  let passed = false;

  after(() => {
    if (passed) {
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    for (const [pid, dataDir] of pids) {
      const argv = cmdline(pid);
      if (argv[argv.indexOf('--data-dir') + 1] === dataDir && !gone(pid)) process.kill(pid, 'SIGKILL');
    }
    console.log(`cluster-cli: kept ${dir} (hostN/stdout.log, hostN/logs/poolstackd.log)`);
  });

  it('starts a pool, survives a member restarted by its command line, and stops it', async () => {
    const port = await sharedFreePort();
    const up = await run(
      process.execPath,
      [
        poolstackJs,
        'cluster',
        'up',
        '--hosts',
        '3',
        '--dir',
        dir,
        '--port',
        String(port),
        '--base-address',
        ADDRESSES[0] as string,
        '--heartbeat-interval-ms',
        '200',
        '--dead-after-ms',
        '2000',
      ],
      { timeout: COMMAND_TIMEOUT_MS },
    ).catch((e: Error & { stderr?: string }) => {
      throw new Error(`cluster up failed: ${e.stderr ?? e.message}`);
    });
    const info = JSON.parse(up.stdout) as Cluster;
    for (const h of info.hosts) pids.set(h.pid, h.dataDir);

    // The JSON: one object, these keys, one shared port, host 1 the master; the same in cluster.json.
    assert.deepEqual(Object.keys(info), ['password', 'hosts']);
    assert.ok(info.password.length >= 12);
    assert.equal(info.hosts.length, 3);
    for (const [i, h] of info.hosts.entries()) {
      assert.deepEqual(Object.keys(h), ['uuid', 'address', 'port', 'httpPort', 'pid', 'dataDir', 'master']);
      assert.match(h.uuid, UUID);
      assert.equal(h.address, ADDRESSES[i]);
      assert.equal(h.port, port);
      assert.ok(Number.isInteger(h.httpPort) && h.httpPort !== port);
      assert.equal(h.dataDir, join(dir, `host${i + 1}`));
      assert.equal(h.master, i === 0);
      assert.ok(!gone(h.pid), `host${i + 1} (pid ${h.pid}) runs`);
    }
    assert.equal(new Set(info.hosts.map((h) => h.uuid)).size, 3);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')), info);
    assert.equal(readFileSync(join(dir, 'root-password'), 'utf8').trim(), info.password);
    assert.equal(statSync(join(dir, 'root-password')).mode & 0o777, 0o600);

    // The master lists all three, the members live; members send logins to host 1.
    const [master, member, victim] = info.hosts as [Host, Host, Host];
    const view = await poolView(info);
    assert.deepEqual([...view.keys()].sort(), ADDRESSES);
    for (const h of info.hosts) assert.equal(view.get(h.address)?.uuid, h.uuid);
    assert.ok(view.get(member.address)?.live && view.get(victim.address)?.live, 'members are live');
    assert.equal(await loginAnswer(master, info.password), 'session');
    assert.equal(await loginAnswer(member, info.password), `HOST_IS_SLAVE ${master.address}`);
    assert.equal(await loginAnswer(victim, info.password), `HOST_IS_SLAVE ${master.address}`);

    // A second `cluster up` on a running cluster is refused.
    const again = await run(process.execPath, [poolstackJs, 'cluster', 'up', '--hosts', '3', '--dir', dir], {
      timeout: COMMAND_TIMEOUT_MS,
    }).then(
      () => undefined,
      (e: { code?: number; stderr?: string }) => e,
    );
    assert.ok(again !== undefined && again.code === 1, 'refused with exit code 1');
    assert.match(again.stderr ?? '', /already holds a running cluster/);

    // kill -9 a member; the master finds it dead.
    const argv = cmdline(victim.pid);
    assert.ok(argv.includes('--data-dir') && argv.includes(victim.dataDir), `cmdline: ${argv.join(' ')}`);
    process.kill(victim.pid, 'SIGKILL');
    await waitFor(`pid ${victim.pid} to die`, WAIT_MS, () => (gone(victim.pid) ? true : undefined));
    await waitFor('the master to find the member dead', WAIT_MS, async () =>
      (await poolView(info)).get(victim.address)?.live === false ? true : undefined,
    );

    // Restarted with exactly the command line ps showed, it is back in the pool.
    const log = openSync(join(victim.dataDir, 'stdout.log'), 'a');
    const child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    child.unref();
    const restarted = child.pid ?? -1;
    pids.set(restarted, victim.dataDir);
    await waitFor('the restarted member to be live and caught up', WAIT_MS, async () => {
      const v = await poolView(info).catch(() => undefined);
      const mine = v?.get(victim.address);
      return mine?.live === true && mine.gen > 0 && mine.gen === v?.get(master.address)?.gen
        ? true
        : undefined;
    });
    assert.equal(await loginAnswer(victim, info.password), `HOST_IS_SLAVE ${master.address}`);
    assert.equal((await poolView(info)).size, 3);

    // cluster down stops all three daemons that run, including the restarted one, and every pid goes.
    const down = await run(process.execPath, [poolstackJs, 'cluster', 'down', '--dir', dir], {
      timeout: COMMAND_TIMEOUT_MS,
    });
    for (const pid of [master.pid, member.pid, restarted])
      assert.match(down.stdout, new RegExp(`pid ${pid} `));
    assert.doesNotMatch(down.stdout, new RegExp(`pid ${victim.pid} `));
    await waitFor('every pid to be gone', WAIT_MS, () => ([...pids.keys()].every(gone) ? true : undefined));
    passed = true;
  });
});
