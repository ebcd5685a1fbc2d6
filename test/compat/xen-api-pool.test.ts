// Proves that npm xen-api 4.7.6, unmodified, pointed at a pool member follows HOST_IS_SLAVE to the
// master and sees the whole pool, as it does with XenServer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_PASSWORD } from '../../src/testing/daemon-process.js';
import { startPool } from '../../src/testing/pool.js';

interface XapiObject {
  readonly $type: string;
  readonly [field: string]: unknown;
}
interface Xapi {
  readonly objects: { readonly all: Record<string, XapiObject> };
  readonly objectsFetched: Promise<void>;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  call(method: string, ...args: unknown[]): Promise<unknown>;
}
// A non-literal specifier keeps tsc from looking for declarations of the untyped package.
const xenApiModuleName = 'xen-api';
const { Xapi } = (await import(xenApiModuleName)) as { Xapi: new (opts: Record<string, unknown>) => Xapi };

function withTimeout<T>(what: string, p: Promise<T>, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

describe('xen-api against a three-host pool', { timeout: 90_000 }, () => {
  it('logged in to a member, follows HOST_IS_SLAVE to the master and caches every host', async () => {
    const pool = await startPool({ name: 'xen-api-pool', hosts: 3 });
    let ok = false;
    try {
      const [master, member] = pool.hosts as [(typeof pool.hosts)[0], (typeof pool.hosts)[0]];
      const xapi = new Xapi({
        url: `https://${member.address}:${pool.port}`,
        allowUnauthorized: true,
        auth: { user: 'root', password: TEST_PASSWORD },
        eventPollDelay: 100,
      });
      await withTimeout('xapi.connect() via a member', xapi.connect());
      await withTimeout('xapi.objectsFetched', xapi.objectsFetched);
      const hosts = Object.values(xapi.objects.all).filter((o) => o.$type === 'host');
      assert.equal(hosts.length, 3);
      const pools = Object.values(xapi.objects.all).filter((o) => o.$type === 'pool');
      const masterHost = hosts.find((h) => h.$ref === pools[0]?.master);
      assert.equal(masterHost?.address, master.address);
      // Calls go to the master now: a write works and is seen by the pool.
      const ref = await xapi.call('pool.get_all');
      assert.equal((ref as string[]).length, 1);
      await withTimeout('xapi.disconnect()', xapi.disconnect());
      ok = true;
    } finally {
      await pool.stopAll();
      if (ok) pool.cleanup();
      else console.log(`# xen-api-pool: kept the data dirs in ${pool.dir}`);
    }
  });
});
