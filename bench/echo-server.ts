// The baseline: a bare node:http server in its own process (as the daemon is), which reads each
// request body to the end and answers with a fixed application/json body. POST /size/N answers N
// bytes, so each benchmark's baseline reply is the size of the daemon's real reply.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const bodies = new Map<number, Buffer>();

function bodyOf(size: number): Buffer {
  let b = bodies.get(size);
  if (b === undefined) {
    const head = '{"jsonrpc":"2.0","id":1,"result":"';
    const tail = '"}';
    const pad = Math.max(0, size - head.length - tail.length);
    b = Buffer.from(head + 'x'.repeat(pad) + tail, 'utf8');
    bodies.set(size, b);
  }
  return b;
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    // Touch the body as a real server would have to before answering.
    const text = Buffer.concat(chunks).toString('utf8');
    const m = /^\/size\/(\d+)$/.exec(req.url ?? '');
    const body = bodyOf(m !== null ? Number(m[1]) : text.length);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`echo-server listening ${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
