// A small XenAPI client for our own xe CLI and tests. It speaks either JSON-RPC 2.0 on /jsonrpc or
// XML-RPC on the URL's path, as npm xen-api does, over keep-alive connections. API failures
// reject with XapiCallError; transport failures reject with the underlying error.
import http from 'node:http';
import https from 'node:https';
import { MalformedRequest } from './errors.js';
import { encodeMethodCall, parseMethodResponse } from './xml.js';

export class XapiCallError extends Error {
  override readonly name = 'XapiCallError';
  constructor(
    readonly code: string,
    readonly params: string[],
  ) {
    super(`${code}(${params})`);
  }
}

export interface XapiClientOptions {
  transport?: 'json' | 'xml';
  /** False accepts self-signed certificates, like xen-api's `allowUnauthorized`. */
  rejectUnauthorized?: boolean;
  /** Whole-call timeout; unlimited when absent. */
  timeoutMs?: number;
}

/** XenAPI error parameters are strings; anything else is shown as JSON rather than lost. */
function asString(x: unknown): string {
  return typeof x === 'string' ? x : (JSON.stringify(x) ?? '');
}

function toStrings(v: unknown): string[] {
  return Array.isArray(v) ? v.map(asString) : v === undefined || v === null ? [] : [asString(v)];
}

/** Reads a JSON-RPC 1.0 or 2.0 response (v2 errors `{code,message,data}`, v1 `[CODE, …]`). */
function decodeJsonResponse(text: string): unknown {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    throw new MalformedRequest('response is not JSON');
  }
  if (typeof msg !== 'object' || msg === null) throw new MalformedRequest('response is not an object');
  const { result, error } = msg as { result?: unknown; error?: unknown };
  if (error === undefined || error === null) return result;
  if (Array.isArray(error)) {
    const [code, ...params] = toStrings(error);
    throw new XapiCallError(code ?? '', params);
  }
  const e = error as { message?: unknown; data?: unknown };
  throw new XapiCallError(asString(e.message), toStrings(e.data));
}

function decodeXmlResponse(text: string): unknown {
  const r = parseMethodResponse(text);
  if (r.ok) return r.value;
  const [code, ...params] = r.error;
  throw new XapiCallError(code ?? '', params);
}

export class XapiClient {
  private readonly url: URL;
  private readonly transport: 'json' | 'xml';
  private readonly agent: http.Agent;
  private readonly timeoutMs: number | undefined;
  private sessionRef: string | undefined;
  private nextId = 0;

  constructor(url: string, opts: XapiClientOptions = {}) {
    // Like xen-api, a URL without a scheme means https.
    this.url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`);
    this.transport = opts.transport ?? 'json';
    this.timeoutMs = opts.timeoutMs;
    this.agent =
      this.url.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, rejectUnauthorized: opts.rejectUnauthorized ?? true })
        : new http.Agent({ keepAlive: true });
  }

  /** The session ref from `login`, if any. */
  get session(): string | undefined {
    return this.sessionRef;
  }

  async call(method: string, params: unknown[]): Promise<unknown> {
    if (this.transport === 'json') {
      const body = JSON.stringify({ jsonrpc: '2.0', method, params, id: this.nextId++ });
      const base = this.url.pathname.replace(/\/+$/, '');
      return decodeJsonResponse(await this.post(`${base}/jsonrpc`, 'application/json', body));
    }
    const text = await this.post(this.url.pathname || '/', 'text/xml', encodeMethodCall(method, params));
    return decodeXmlResponse(text);
  }

  async login(user: string, password: string): Promise<string> {
    const ref = await this.call('session.login_with_password', [user, password]);
    if (typeof ref !== 'string') throw new MalformedRequest('login returned no session ref');
    this.sessionRef = ref;
    return ref;
  }

  /** Uses a session obtained otherwise (session.slave_local_login_with_password on a member). */
  useSession(ref: string): void {
    this.sessionRef = ref;
  }

  callSession(method: string, ...params: unknown[]): Promise<unknown> {
    if (this.sessionRef === undefined) return Promise.reject(new Error(`${method}: not logged in`));
    return this.call(method, [this.sessionRef, ...params]);
  }

  async logout(): Promise<void> {
    const ref = this.sessionRef;
    if (ref === undefined) return;
    this.sessionRef = undefined;
    await this.call('session.logout', [ref]);
  }

  /**
   * An HTTP transfer beside the API, as xapi has for database dumps and host backups
   * (`GET|PUT /pool/xmldbdump?session_id=…`): resolves with the response stream once the status
   * is 200; a failure the server reports as `{"error":[code, params…]}` becomes an XapiCallError.
   */
  transfer(
    method: 'GET' | 'PUT',
    path: string,
    query: Record<string, string>,
    body?: NodeJS.ReadableStream,
  ): Promise<http.IncomingMessage> {
    const mod = this.url.protocol === 'https:' ? https : http;
    const qs = new URLSearchParams(query).toString();
    return new Promise((resolve, reject) => {
      const req = mod.request(
        {
          method,
          hostname: this.url.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: this.url.port || undefined,
          path: `${path}?${qs}`,
          agent: this.agent,
        },
        (res) => {
          if (res.statusCode === 200) {
            resolve(res);
            return;
          }
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              const e = (JSON.parse(text) as { error?: unknown }).error;
              if (Array.isArray(e) && typeof e[0] === 'string') {
                const [code, ...params] = e as string[];
                reject(new XapiCallError(code ?? '', params));
                return;
              }
            } catch {
              // not a XenAPI error: reported as HTTP below
            }
            reject(new Error(`HTTP ${res.statusCode ?? '?'} from ${path}: ${text.slice(0, 200)}`));
          });
        },
      );
      req.on('error', reject);
      if (body === undefined) req.end();
      else {
        body.on('error', (e: Error) => req.destroy(e));
        body.pipe(req);
      }
    });
  }

  /** Drops the idle keep-alive sockets so the process can exit. */
  close(): void {
    this.agent.destroy();
  }

  private post(path: string, contentType: string, body: string): Promise<string> {
    const mod = this.url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (err: Error | undefined, text = '') => {
        clearTimeout(timer);
        if (err === undefined) resolve(text);
        else reject(err);
      };
      const req = mod.request(
        {
          method: 'POST',
          hostname: this.url.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: this.url.port || undefined,
          path,
          agent: this.agent,
          headers: {
            'Content-Type': contentType,
            Accept: contentType,
            'Content-Length': Buffer.byteLength(body),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', settle);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode === 200) settle(undefined, text);
            else settle(new Error(`HTTP ${res.statusCode ?? '?'} from ${path}: ${text.slice(0, 200)}`));
          });
        },
      );
      req.on('error', settle);
      if (this.timeoutMs !== undefined) {
        const ms = this.timeoutMs;
        timer = setTimeout(() => req.destroy(new Error(`timed out after ${ms} ms`)), ms);
      }
      req.end(body);
    });
  }
}
