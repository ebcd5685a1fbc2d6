// Proves the HTTP front sends small replies whole with Content-Length and large ones streamed
// (chunked) with the same bytes and the exact Content-Type, over JSON-RPC and XML-RPC.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { nullLogger } from '../base/log.js';
import { t } from '../model/types.js';
import { ApiHttpServer, type CallOutcome } from './http-server.js';
import { encodeJsonSuccess } from './json.js';
import { encodeMethodCall, encodeSuccess } from './xml.js';

const big = Array.from({ length: 40_000 }, (_, i) => `OpaqueRef:${i}-é`);
const small = ['a', 'b'];

function dispatch(method: string): Promise<CallOutcome> {
  return Promise.resolve({
    ok: true,
    ty: t.set(t.string),
    value: method === 'big' ? big : small,
    bare: false,
  });
}

interface Reply {
  headers: http.IncomingHttpHeaders;
  body: string;
}

function post(port: number, path: string, type: string, body: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { method: 'POST', host: '127.0.0.1', port, path, headers: { 'Content-Type': type } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('ApiHttpServer replies', () => {
  const server = new ApiHttpServer(dispatch, nullLogger);
  let port = 0;
  before(async () => {
    port = await server.listen('127.0.0.1', 0);
  });
  after(() => server.close());

  const json = (method: string) => JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [] });

  it('sends a small reply whole, with Content-Length', async () => {
    const r = await post(port, '/jsonrpc', 'application/json', json('small'));
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(r.body)));
    assert.equal(r.body, encodeJsonSuccess('2.0', 1, t.set(t.string), small));
  });

  it('streams a large JSON-RPC reply with the same bytes', async () => {
    const r = await post(port, '/jsonrpc', 'application/json', json('big'));
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.equal(r.headers['content-length'], undefined);
    assert.equal(r.body, encodeJsonSuccess('2.0', 1, t.set(t.string), big));
  });

  it('streams a large XML-RPC reply with the same bytes', async () => {
    const r = await post(port, '/', 'text/xml', encodeMethodCall('big', []));
    assert.equal(r.headers['content-type'], 'text/xml');
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.equal(r.body, encodeSuccess(t.set(t.string), big));
  });
});
