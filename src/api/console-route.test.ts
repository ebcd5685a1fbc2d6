// Proves the console route serves exactly the built files (the page at `/`, hashed assets with long
// caching, nothing outside them, a clear 503 when the console is not built) and leaves every other
// request, such as XML-RPC's POST /, to the API.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { consoleRoute, hostPort } from './console-route.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function serve(webDir: string): Promise<{
  get: (path: string, method?: string) => Promise<[number, string, http.IncomingHttpHeaders]>;
  close: () => void;
}> {
  const route = consoleRoute({ masterAddress: () => undefined, webDir });
  const server = http.createServer((req, res) => {
    if (!route(req, res)) {
      res.writeHead(299);
      res.end('api');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const get = (path: string, method = 'GET') =>
    new Promise<[number, string, http.IncomingHttpHeaders]>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, method }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve([res.statusCode ?? 0, Buffer.concat(chunks).toString(), res.headers]));
      });
      req.on('error', reject);
      req.end();
    });
  return { get, close: () => server.close() };
}

describe('console route', () => {
  it('serves the built page and its assets, and nothing else', async () => {
    const web = mkdtempSync(join(tmpdir(), 'poolstack-web-'));
    dirs.push(web);
    mkdirSync(join(web, 'assets'));
    writeFileSync(join(web, 'index.html'), '<html>console</html>');
    writeFileSync(join(web, 'assets', 'index-abc.js'), 'run()');
    writeFileSync(join(tmpdir(), 'poolstack-web-secret.txt'), 'secret');
    dirs.push(join(tmpdir(), 'poolstack-web-secret.txt'));
    const s = await serve(web);
    try {
      const [status, body, headers] = await s.get('/');
      assert.equal(status, 200);
      assert.equal(body, '<html>console</html>');
      assert.match(String(headers['content-type']), /text\/html/);
      assert.match(String(headers['content-security-policy']), /default-src 'self'/);
      const [js, jsBody, jsHeaders] = await s.get('/assets/index-abc.js');
      assert.equal(js, 200);
      assert.equal(jsBody, 'run()');
      assert.match(String(jsHeaders['cache-control']), /immutable/);
      assert.equal((await s.get('/assets/missing.js'))[0], 404);
      // Only the built files exist for the route: a path that climbs out is never a file.
      for (const climb of [
        '/assets/../../poolstack-web-secret.txt',
        '/assets/%2e%2e/%2e%2e/poolstack-web-secret.txt',
      ]) {
        const [code, text] = await s.get(climb);
        assert.notEqual(code, 200, climb);
        assert.doesNotMatch(text, /secret/, climb);
      }
      // Other paths and methods belong to the API (XML-RPC is POST /).
      assert.equal((await s.get('/', 'POST'))[0], 299);
      assert.equal((await s.get('/jsonrpc'))[0], 299);
    } finally {
      s.close();
    }
  });

  it('says so when the console is not built', async () => {
    const s = await serve(join(tmpdir(), 'poolstack-no-such-web-dir'));
    try {
      const [status, body] = await s.get('/');
      assert.equal(status, 503);
      assert.match(body, /npm run build/);
    } finally {
      s.close();
    }
  });

  it("sends a member's HTTPS browsers to the master's address, on the pool's shared port", () => {
    assert.equal(hostPort('10.0.0.1', 8443), '10.0.0.1:8443');
    assert.equal(hostPort('10.0.0.1:443', 8443), '10.0.0.1:443');
    assert.equal(hostPort('fd00::1', 443), '[fd00::1]:443');
    assert.equal(hostPort('[fd00::1]:8443', 443), '[fd00::1]:8443');
    assert.equal(hostPort('master.example', 443), 'master.example:443');
  });
});
