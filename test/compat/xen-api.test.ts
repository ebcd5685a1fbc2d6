// Proves that npm xen-api 4.7.6, unmodified, connects to a real poolstackd over JSON-RPC (HTTP and HTTPS) and, when JSON-RPC is refused, over XML-RPC; caches complete pool/host/VM records; runs Async tasks whose effects reach it through its own event loop within 1 s; and sees barrier, setters and XenAPI errors behave as on xapi.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { classes } from '../../src/model/index.js';
import { startDaemonProcess, TEST_PASSWORD, type DaemonHandle } from '../../src/testing/daemon-process.js';

// xen-api ships no types: describe the small surface this test uses.
interface XapiObject {
  readonly $type: string;
  readonly $ref: string;
  readonly $id: string;
  readonly [field: string]: unknown;
  set_name_label(v: string): Promise<void>;
}
interface XapiCollection {
  readonly all: Record<string, XapiObject>;
  on(event: 'add' | 'update' | 'remove', h: (objs: Record<string, XapiObject>) => void): void;
  removeListener(event: string, h: (objs: Record<string, XapiObject>) => void): void;
}
interface XapiError extends Error {
  code: string;
  params: string[];
}
interface Xapi {
  readonly pool: XapiObject & { readonly $master: XapiObject | undefined };
  readonly objects: XapiCollection;
  readonly objectsFetched: Promise<void>;
  readonly status: string;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  call(method: string, ...args: unknown[]): Promise<unknown>;
  callAsync(method: string, ...args: unknown[]): Promise<unknown>;
  barrier(ref?: string): Promise<XapiObject | undefined>;
  getObjectByRef(ref: string): XapiObject;
  on(event: string, h: (e: unknown) => void): void;
}
interface XenApiModule {
  Xapi: new (opts: Record<string, unknown>) => Xapi;
}
// A non-literal specifier keeps tsc from looking for declarations of the untyped package.
const xenApiModuleName = 'xen-api';
const { Xapi } = (await import(xenApiModuleName)) as XenApiModule;

const STEP_TIMEOUT_MS = 10_000;

function withTimeout<T>(what: string, p: Promise<T>, ms = STEP_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * Loopback proxy in front of the daemon. With `refuseJsonRpc` it answers POST /jsonrpc the way an
 * old host without JSON-RPC does (200, text/html), which makes xen-api's 'auto' transport throw
 * UnsupportedTransport and switch to XML-RPC at /xmlrpc. It counts requests per path.
 */
async function startProxy(target: string, refuseJsonRpc: boolean) {
  const upstream = new URL(target);
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (refuseJsonRpc && req.method === 'POST' && path === '/jsonrpc') {
      req.resume();
      req.on('end', () => {
        const body = '<html><body>JSON-RPC is not supported here</body></html>';
        res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      });
      return;
    }
    const fwd = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

function newXapi(url: string, extra: Record<string, unknown> = {}): Xapi {
  const xapi = new Xapi({
    url,
    auth: { user: 'root', password: TEST_PASSWORD },
    // After disconnect() the loop's pending event.from fails when the daemon stops; keep its retry
    // pause short so the test process is not held open.
    eventPollDelay: 100,
    ...extra,
  });
  xapi.on('eventFetchingError', (e) => console.error('xen-api eventFetchingError:', e));
  return xapi;
}

/**
 * Connects and waits for the initial fetch. xen-api only console.warn()s when a
 * `<T>.get_all_records` that system.listMethods advertised fails, so capture those warnings and
 * fail on them: every advertised type must be fetchable.
 */
async function connected(xapi: Xapi): Promise<Xapi> {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    warnings.push(args.map(String).join(' '));
    warn(...args);
  };
  try {
    await withTimeout('xapi.connect()', xapi.connect());
    await withTimeout('xapi.objectsFetched', xapi.objectsFetched);
  } finally {
    console.warn = warn;
  }
  assert.deepEqual(warnings, [], 'xen-api warned while connecting');
  return xapi;
}

function ofType(xapi: Xapi, type: string): XapiObject[] {
  return Object.values(xapi.objects.all).filter((o) => o.$type === type);
}

function assertHasModelFields(obj: XapiObject, cls: keyof typeof classes): void {
  const missing = Object.keys(classes[cls].fields).filter((f) => !(f in obj));
  assert.deepEqual(missing, [], `${cls} ${obj.$ref} misses fields in xen-api's cache`);
}

/** Checks the cache a freshly connected client holds; `ints` is how int64 fields arrive. */
function assertCompleteObjects(xapi: Xapi, ints: 'number' | 'string'): void {
  const pools = ofType(xapi, 'pool');
  assert.equal(pools.length, 1);
  const pool = xapi.pool;
  assert.ok(pool, 'xapi.pool is set');
  assertHasModelFields(pool, 'pool');
  assert.match(String(pool.master), /^OpaqueRef:[0-9a-f-]{36}$/);
  assert.match(String(pool.default_SR), /^OpaqueRef:/);
  assert.equal(typeof pool.other_config, 'object');

  const master = pool.$master;
  assert.ok(master, 'pool.$master resolves through the cache');
  assert.equal(master.$type, 'host');
  assert.equal(master.$ref, pool.master);
  const hosts = ofType(xapi, 'host');
  assert.equal(hosts.length, 1);
  assertHasModelFields(master, 'host');
  assert.equal(master.address, '127.0.0.1');
  const sv = master.software_version as Record<string, string>;
  assert.equal(typeof sv, 'object');
  assert.ok(sv.xapi, 'software_version has an xapi entry');
  assert.match(String(master.metrics), /^OpaqueRef:/);
  const metrics = xapi.getObjectByRef(String(master.metrics));
  assert.equal(metrics.$type, 'host_metrics');
  assert.equal(typeof metrics.memory_total, ints);

  const vms = ofType(xapi, 'VM');
  assert.ok(
    vms.some((v) => v.is_control_domain === true),
    'the control domain is cached',
  );
  assert.ok(
    vms.some((v) => v.name_label === 'Debian Bookworm 12' && v.is_a_template === true),
    'templates are cached',
  );
  const fieldSet = Object.keys(vms[0] ?? {})
    .sort()
    .join(',');
  for (const vm of vms) {
    assertHasModelFields(vm, 'VM');
    assert.equal(Object.keys(vm).sort().join(','), fieldSet, 'every VM record has the same field set');
    assert.equal(vm.$id, vm.uuid, 'objects are keyed by uuid');
    assert.match(String(vm.uuid), /^[0-9a-f-]{36}$/);
    assert.equal(typeof vm.name_label, 'string');
    assert.ok(['Halted', 'Running', 'Paused', 'Suspended'].includes(String(vm.power_state)));
    assert.equal(typeof vm.memory_static_max, ints);
    assert.ok(Number(vm.memory_static_max) > 0);
    assert.ok(Array.isArray(vm.VBDs));
    assert.equal(typeof vm.other_config, 'object');
    assert.equal(typeof vm.is_a_template, 'boolean');
  }
}

/** VM lifecycle through the client's own calls, tasks and event loop. */
async function exerciseLifecycle(xapi: Xapi, name: string): Promise<void> {
  const tpl = ofType(xapi, 'VM').find(
    (v) => v.name_label === 'Debian Bookworm 12' && v.is_a_template === true,
  );
  assert.ok(tpl, 'template Debian Bookworm 12 is cached');

  // Async.VM.clone: the task result is an XML-RPC fragment xen-api decodes into the new ref.
  const ref = await withTimeout('Async.VM.clone', xapi.callAsync('VM.clone', tpl.$ref, name));
  assert.equal(typeof ref, 'string');
  assert.match(ref as string, /^OpaqueRef:[0-9a-f-]{36}$/);
  const vmRef = ref as string;
  await withTimeout('VM.provision', xapi.call('VM.provision', vmRef));
  await withTimeout('VM.set_is_a_template', xapi.call('VM.set_is_a_template', vmRef, false));

  // barrier(ref) returns the cached object once every earlier change has come through events.
  const vm = await withTimeout('barrier after provision', xapi.barrier(vmRef));
  assert.ok(vm);
  assert.equal(vm.name_label, name);
  assert.equal(vm.is_a_template, false);
  assert.equal(vm.power_state, 'Halted');
  assert.equal((vm.VBDs as string[]).length, 1, 'provision created the template disk');

  // Watch the VM through xen-api's cache before starting it.
  let runningSeenAt: number | undefined;
  let onUpdate: ((objs: Record<string, XapiObject>) => void) | undefined;
  const runningSeen = new Promise<number>((resolve) => {
    onUpdate = (objs) => {
      const o = objs[vm.$id];
      if (o !== undefined && o.power_state === 'Running' && runningSeenAt === undefined) {
        runningSeenAt = Date.now();
        resolve(runningSeenAt);
      }
    };
    xapi.objects.on('update', onUpdate);
  });
  try {
    const result = await withTimeout('Async.VM.start', xapi.callAsync('VM.start', vmRef, false, false));
    const taskDoneAt = Date.now();
    assert.equal(result, '', 'VM.start returns void');
    const seenAt = await withTimeout('power_state Running in xen-api cache', runningSeen, 1_000);
    const lagMs = Math.max(0, seenAt - taskDoneAt);
    assert.ok(lagMs < 1_000, `Running reached the cache ${lagMs} ms after the task finished`);
  } finally {
    if (onUpdate) xapi.objects.removeListener('update', onUpdate);
  }
  assert.equal(xapi.getObjectByRef(vmRef).power_state, 'Running');

  // Setters round-trip, and barrier makes the new value visible in the cache.
  await withTimeout('set_name_label', xapi.getObjectByRef(vmRef).set_name_label(`${name} renamed`));
  const renamed = await withTimeout('barrier after rename', xapi.barrier(vmRef));
  assert.equal(renamed?.name_label, `${name} renamed`);
  assert.equal(
    await withTimeout('VM.get_name_label', xapi.call('VM.get_name_label', vmRef)),
    `${name} renamed`,
  );

  // Errors reject with XapiError(code, params), synchronously and through a task.
  const badPowerState = (e: unknown) => {
    const err = e as XapiError;
    assert.equal(err.code, 'VM_BAD_POWER_STATE');
    assert.deepEqual(err.params, [vmRef, 'halted', 'running']);
    return true;
  };
  await assert.rejects(
    withTimeout('VM.start on a running VM', xapi.call('VM.start', vmRef, false, false)),
    badPowerState,
  );
  await assert.rejects(
    withTimeout('Async.VM.start on a running VM', xapi.callAsync('VM.start', vmRef, false, false)),
    badPowerState,
  );

  // Shut it down again so each run leaves a tidy pool.
  await withTimeout('Async.VM.clean_shutdown', xapi.callAsync('VM.clean_shutdown', vmRef));
  const halted = await withTimeout('barrier after shutdown', xapi.barrier(vmRef));
  assert.equal(halted?.power_state, 'Halted');
}

describe('npm xen-api against a real poolstackd', () => {
  let daemon: DaemonHandle | undefined;
  let failed = false;
  const clients: Xapi[] = [];
  const track = (fn: () => Promise<void>) => async (): Promise<void> => {
    try {
      await fn();
    } catch (e) {
      failed = true;
      throw e;
    }
  };

  before(async () => {
    daemon = await startDaemonProcess({ name: 'compat-xen-api' });
  });

  after(async () => {
    for (const c of clients) await withTimeout('disconnect', c.disconnect()).catch(() => undefined);
    if (daemon === undefined) return;
    await daemon.stop();
    if (failed) console.error(`compat-xen-api failed; data dir kept at ${daemon.dataDir}`);
    else daemon.cleanup();
  });

  it(
    'connects over JSON-RPC (auto transport, HTTP) and caches complete pool, host and VM records',
    track(async () => {
      assert.ok(daemon);
      const xapi = await connected(newXapi(daemon.httpUrl));
      clients.push(xapi);
      assert.equal(xapi.status, 'connected');
      // int64 fields arrive as JSON numbers: the client really spoke JSON-RPC.
      assertCompleteObjects(xapi, 'number');
      await exerciseLifecycle(xapi, 'xen-api json vm');
    }),
  );

  it(
    'connects over HTTPS with allowUnauthorized',
    track(async () => {
      assert.ok(daemon);
      const xapi = await connected(newXapi(daemon.httpsUrl, { allowUnauthorized: true }));
      clients.push(xapi);
      assertCompleteObjects(xapi, 'number');
      assert.equal(
        await withTimeout('VM.get_all', xapi.call('VM.get_all')).then((r) => Array.isArray(r)),
        true,
      );
    }),
  );

  it(
    'falls back to XML-RPC when /jsonrpc answers text/html, and works fully over it',
    track(async () => {
      assert.ok(daemon);
      const proxy = await startProxy(daemon.httpUrl, true);
      const xapi = newXapi(proxy.url);
      try {
        await connected(xapi);
        assert.equal(proxy.hits.get('/jsonrpc'), 1, 'exactly one JSON-RPC attempt before switching');
        assert.ok((proxy.hits.get('/xmlrpc') ?? 0) > 3, 'calls went to /xmlrpc');
        // int64 fields arrive as bare XML-RPC strings, exactly as from xapi.
        assertCompleteObjects(xapi, 'string');
        await exerciseLifecycle(xapi, 'xen-api xml vm');
        assert.equal(proxy.hits.get('/jsonrpc'), 1, 'the client never went back to JSON-RPC');
        assert.deepEqual(
          [...proxy.hits.keys()].sort(),
          ['/jsonrpc', '/xmlrpc'],
          'no other paths were requested',
        );
      } finally {
        await withTimeout('disconnect', xapi.disconnect()).catch(() => undefined);
        await proxy.close();
      }
    }),
  );
});
