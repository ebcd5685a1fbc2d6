// The API's HTTP front: JSON-RPC on POST /jsonrpc, XML-RPC on every other POST path (xapi routes by
// longest prefix, so /, /RPC2 and npm xen-api's /xmlrpc all land here). API errors are HTTP 200
// with a Failure envelope; malformed bodies get xapi's HTTP 500 page; oversized bodies 413.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { limits } from '../base/limits.js';
import type { Logger } from '../base/log.js';
import type { Ty } from '../model/types.js';
import { encodeJsonFailure, encodeJsonSuccessParts, parseJsonRpcRequest } from './json.js';
import { MalformedRequest } from './errors.js';
import { encodeBareParts, encodeFailure, encodeSuccessParts, parseMethodCall } from './xml.js';

export type CallOutcome =
  { ok: true; ty: Ty; value: unknown; bare: boolean } | { ok: false; error: string[] };
export type RpcDispatch = (method: string, params: readonly unknown[]) => Promise<CallOutcome>;
/** Extra routes (web console, /cli, database dumps) take the request before the RPC fallback. */
export type RouteHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

const corsHeaders = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'X-Requested-With',
};

class TooLarge extends Error {}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limits.rpcBodyBytesMax) {
      reject(new TooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      if (tooLarge) return;
      size += c.length;
      if (size > limits.rpcBodyBytesMax) {
        // Not req.destroy(): that resets the connection before the 413 page is sent. The rest is
        // discarded; the page's `Connection: close` ends the socket once it is written.
        tooLarge = true;
        chunks.length = 0;
        reject(new TooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...corsHeaders });
  res.end(body);
}

/** Replies up to this many characters are joined and sent whole, with Content-Length. */
const STREAM_ABOVE_CHARS = 256 * 1024;
/** Larger replies are encoded straight into Buffers of this size and written one at a time. */
const STREAM_CHUNK_BYTES = 1024 * 1024;

function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Sends a 200 reply given as pieces. A large reply (get_all_records: tens of MB, mostly cached
 * record texts) is never joined into one string: the pieces are UTF-8-encoded directly into 1 MiB
 * Buffers that go out with chunked transfer encoding, waiting for the socket to drain in between.
 * So no copy of the whole reply is built, there is no byte-count pass over it, and other calls
 * are served while it drains.
 */
async function sendParts(res: http.ServerResponse, type: string, parts: readonly string[]): Promise<void> {
  let chars = 0;
  for (const p of parts) chars += p.length;
  if (chars <= STREAM_ABOVE_CHARS) {
    send(res, 200, type, parts.join(''));
    return;
  }
  res.writeHead(200, { 'Content-Type': type, ...corsHeaders });
  let buf = Buffer.allocUnsafe(STREAM_CHUNK_BYTES);
  let at = 0;
  const flush = async (chunk: Buffer) => {
    if (!res.write(chunk)) await drained(res);
  };
  for (const p of parts) {
    // A UTF-8 character takes at most 3 bytes per UTF-16 unit, so a piece this short always fits.
    if (p.length * 3 > STREAM_CHUNK_BYTES - at) {
      if (at > 0) {
        await flush(buf.subarray(0, at));
        if (res.destroyed) return; // the client went away
        buf = Buffer.allocUnsafe(STREAM_CHUNK_BYTES);
        at = 0;
      }
      if (p.length * 3 > STREAM_CHUNK_BYTES) {
        await flush(Buffer.from(p, 'utf8'));
        if (res.destroyed) return;
        continue;
      }
    }
    at += buf.write(p, at, 'utf8');
  }
  res.end(at > 0 ? buf.subarray(0, at) : undefined);
}

function errorPage(res: http.ServerResponse, status: number, title: string): void {
  const body = `<html><body><h1>HTTP ${status} ${title}</h1>${title}</body></html>`;
  res.writeHead(status, {
    'Content-Type': 'text/html',
    'Content-Length': Buffer.byteLength(body),
    Connection: 'close',
  });
  res.end(body);
}

export class ApiHttpServer {
  private readonly servers: (http.Server | https.Server)[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly routes: RouteHandler[] = [];

  constructor(
    private readonly dispatch: RpcDispatch,
    private readonly log: Logger,
  ) {}

  addRoute(route: RouteHandler): void {
    this.routes.push(route);
  }

  /** Starts one listener; TLS when `tls` is given. Resolves with the bound port. */
  async listen(address: string, port: number, tls?: { key: string; cert: string }): Promise<number> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.handle(req, res).catch((e: unknown) => {
        this.log.error({ err: String(e) }, 'request failed');
        if (!res.headersSent) errorPage(res, 500, 'Internal Server Error');
        else res.destroy();
      });
    };
    const server = tls === undefined ? http.createServer(handler) : https.createServer(tls, handler);
    server.keepAliveTimeout = 65_000;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, address, () => resolve());
    });
    this.servers.push(server);
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
          }),
      ),
    );
    for (const s of this.sockets) s.destroy();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    for (const route of this.routes) if (route(req, res)) return;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'OPTIONS') {
      res.writeHead(200, {
        ...corsHeaders,
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Content-Length': 0,
      });
      res.end();
      return;
    }
    if (req.method !== 'POST') {
      errorPage(res, 404, 'Not Found');
      return;
    }
    let body: string;
    try {
      body = await readBody(req);
    } catch (e) {
      if (e instanceof TooLarge) errorPage(res, 413, 'Request Entity Too Large');
      else res.destroy();
      return;
    }
    if (path === '/jsonrpc') await this.json(body, res);
    else await this.xml(body, res);
  }

  private async json(body: string, res: http.ServerResponse): Promise<void> {
    let call;
    try {
      call = parseJsonRpcRequest(body);
    } catch (e) {
      if (e instanceof MalformedRequest) return errorPage(res, 500, 'Internal Server Error');
      throw e;
    }
    const out = await this.dispatch(call.method, call.params);
    if (!out.ok) {
      const text = encodeJsonFailure(
        call.version,
        call.id,
        out.error[0] ?? 'INTERNAL_ERROR',
        out.error.slice(1),
      );
      send(res, 200, 'application/json', text);
      return;
    }
    await sendParts(
      res,
      'application/json',
      encodeJsonSuccessParts(call.version, call.id, out.ty, out.value),
    );
  }

  private async xml(body: string, res: http.ServerResponse): Promise<void> {
    let call;
    try {
      call = parseMethodCall(body);
    } catch (e) {
      if (e instanceof MalformedRequest) return errorPage(res, 500, 'Internal Server Error');
      throw e;
    }
    const out = await this.dispatch(call.method, call.params);
    if (!out.ok) {
      send(res, 200, 'text/xml', encodeFailure(out.error[0] ?? 'INTERNAL_ERROR', out.error.slice(1)));
      return;
    }
    const parts = out.bare ? encodeBareParts(out.ty, out.value) : encodeSuccessParts(out.ty, out.value);
    await sendParts(res, 'text/xml', parts);
  }
}
