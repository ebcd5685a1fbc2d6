// Serves the web console (src/web, built by Vite into dist/web) at `/` of every host's API port.
// The files are read once at start: only those exist, so no request path reaches the file system.
// A member answers a browser on its HTTPS port with a redirect to the master, whose console it is.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RouteHandler } from '../rpc/http-server.js';

/** Where the build puts the console, relative to this file in dist/src/api. */
const WEB_DIR = fileURLToPath(new URL('../../web', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

const HEADERS = {
  // Everything the page needs comes from this host: nothing else may be fetched or run.
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

interface File {
  type: string;
  body: Buffer;
}

function readTree(dir: string): Map<string, File> {
  const files = new Map<string, File>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else
        files.set('/' + relative(dir, p).split(sep).join('/'), {
          type: TYPES[extname(p)] ?? 'application/octet-stream',
          body: readFileSync(p),
        });
    }
  };
  try {
    walk(dir);
  } catch {
    // Not built: answered below.
  }
  return files;
}

/**
 * The master's HTTPS address for a browser: a pool's hosts share one API port (the peer protocol
 * relies on it), so a bare address gets the port this request came in on.
 */
export function hostPort(address: string, port: number): string {
  if (/^\[.*\]:\d+$/.test(address) || /^[^:]+:\d+$/.test(address)) return address;
  if (address.startsWith('[')) return `${address}:${port}`;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export interface ConsoleRouteDeps {
  /** The master's address (host:port of its HTTPS API) when this host is a member. */
  masterAddress(): string | undefined;
  webDir?: string;
}

export function consoleRoute(deps: ConsoleRouteDeps): RouteHandler {
  const files = readTree(deps.webDir ?? WEB_DIR);
  return (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const name = path === '/' ? '/index.html' : path;
    if (name !== '/index.html' && !name.startsWith('/assets/')) return false;
    req.resume();
    const master = deps.masterAddress();
    if (
      master !== undefined &&
      (req.socket as Partial<TLSSocket>).encrypted === true &&
      name === '/index.html'
    ) {
      res.writeHead(302, { Location: `https://${hostPort(master, req.socket.localPort ?? 443)}/` });
      res.end();
      return true;
    }
    const file = files.get(name);
    if (file === undefined) {
      const built = files.size > 0;
      res.writeHead(built ? 404 : 503, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(built ? 'not found\n' : 'the web console is not built here: run `npm run build`\n');
      return true;
    }
    res.writeHead(200, {
      ...HEADERS,
      'Content-Type': file.type,
      'Content-Length': file.body.length,
      // Asset names carry a hash of their content; the page itself is always asked for again.
      'Cache-Control': name.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  };
}
