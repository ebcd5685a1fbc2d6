// Proves XapiClient talks JSON-RPC and XML-RPC to a server built from our codecs, keeps the login session, and reports API, HTTP and timeout failures distinctly.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Ty } from '../model/types.js';
import { t } from '../model/types.js';
import { XapiCallError, XapiClient } from './client.js';
import { encodeJsonFailure, encodeJsonSuccess, parseJsonRpcRequest } from './json.js';
import { encodeFailure, encodeSuccess, parseMethodCall } from './xml.js';

type Outcome = { ok: true; ty: Ty; value: unknown } | { ok: false; error: string[] };

/** A toy API: login, echo (returns its params), logout, fail, and slow (never answers). */
function dispatch(method: string, params: unknown[]): Outcome | undefined {
  switch (method) {
    case 'session.login_with_password':
      return params[1] === 'secret'
        ? { ok: true, ty: t.ref('session'), value: 'OpaqueRef:sess' }
        : {
            ok: false,
            error: ['SESSION_AUTHENTICATION_FAILED', String(params[0]), 'Authentication failure'],
          };
    case 'echo':
      return { ok: true, ty: t.set(t.string), value: params.map(String) };
    case 'session.logout':
      return { ok: true, ty: t.void, value: undefined };
    case 'slow':
      return undefined;
    default:
      return { ok: false, error: ['MESSAGE_METHOD_UNKNOWN', method] };
  }
}

const calls: { path: string; method: string; params: unknown[] }[] = [];

function handle(path: string, body: string): { type: string; text: string } | undefined {
  if (path === '/jsonrpc') {
    const req = parseJsonRpcRequest(body);
    calls.push({ path, method: req.method, params: req.params });
    const out = dispatch(req.method, req.params);
    if (out === undefined) return undefined;
    const text = out.ok
      ? encodeJsonSuccess(req.version, req.id, out.ty, out.value)
      : encodeJsonFailure(req.version, req.id, out.error[0] ?? '', out.error.slice(1));
    return { type: 'application/json', text };
  }
  const req = parseMethodCall(body);
  calls.push({ path, method: req.method, params: req.params });
  const out = dispatch(req.method, req.params);
  if (out === undefined) return undefined;
  const text = out.ok
    ? encodeSuccess(out.ty, out.value)
    : encodeFailure(out.error[0] ?? '', out.error.slice(1));
  return { type: 'text/xml', text };
}

let server: http.Server;
let base = '';

before(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/broken') {
        res.writeHead(500, { 'Content-Type': 'text/html' }).end('<html>Internal Server Error</html>');
        return;
      }
      try {
        const reply = handle(req.url ?? '/', Buffer.concat(chunks).toString('utf8'));
        if (reply !== undefined) res.writeHead(200, { 'Content-Type': reply.type }).end(reply.text);
      } catch (e) {
        res.writeHead(500).end(String(e));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

for (const transport of ['json', 'xml'] as const) {
  describe(`XapiClient over ${transport}`, () => {
    it('logs in, calls with the session prepended, and logs out', async () => {
      const client = new XapiClient(base, { transport });
      try {
        assert.equal(await client.login('root', 'secret'), 'OpaqueRef:sess');
        assert.equal(client.session, 'OpaqueRef:sess');
        assert.deepEqual(await client.callSession('echo', 'a', 7), ['OpaqueRef:sess', 'a', '7']);
        const last = calls[calls.length - 1];
        assert.equal(last?.path, transport === 'json' ? '/jsonrpc' : '/');
        // xen-api's conventions: JSON keeps ints as numbers, XML-RPC sends them as strings.
        assert.deepEqual(last?.params, ['OpaqueRef:sess', 'a', transport === 'json' ? 7 : '7']);
        await client.logout();
        assert.equal(client.session, undefined);
        assert.equal(calls[calls.length - 1]?.method, 'session.logout');
      } finally {
        client.close();
      }
    });

    it('rejects API failures with XapiCallError', async () => {
      const client = new XapiClient(base, { transport });
      try {
        const err = await client.login('root', 'wrong').catch((e: unknown) => e);
        assert.ok(err instanceof XapiCallError);
        assert.equal(err.code, 'SESSION_AUTHENTICATION_FAILED');
        assert.deepEqual(err.params, ['root', 'Authentication failure']);
        assert.equal(err.message, 'SESSION_AUTHENTICATION_FAILED(root,Authentication failure)');
        await assert.rejects(
          client.call('nope', []),
          (e) => e instanceof XapiCallError && e.code === 'MESSAGE_METHOD_UNKNOWN',
        );
        await assert.rejects(client.callSession('echo'), /not logged in/);
      } finally {
        client.close();
      }
    });

    it('rejects transport failures with the underlying error', async () => {
      const slow = new XapiClient(base, { transport, timeoutMs: 100 });
      const broken = new XapiClient(`${base}/broken`, { transport: 'xml' });
      const refused = new XapiClient('http://127.0.0.1:1', { transport });
      try {
        await assert.rejects(slow.call('slow', []), /timed out after 100 ms/);
        await assert.rejects(broken.call('echo', []), /HTTP 500/);
        await assert.rejects(
          refused.call('echo', []),
          (e) => !(e instanceof XapiCallError) && /ECONNREFUSED/.test(String(e)),
        );
      } finally {
        slow.close();
        broken.close();
        refused.close();
      }
    });
  });
}
