// How pool hosts talk to each other: HTTPS on the API port, authenticated both ways. The caller
// trusts only the certificates of the pool's hosts (their PEMs are pool data); the callee accepts
// only requests that carry the pool secret. Two kinds of request:
//   POST /pool/peer       one JSON request, one JSON answer (status, vote, follow, promote, …);
//   POST /pool/replicate  one long-lived request per member: the member streams acknowledgements
//                         and heartbeats up, the master streams entries and snapshots down, both as
//                         newline-delimited JSON on the same connection.
import { timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';

export const SECRET_HEADER = 'x-poolstack-pool-secret';
export const PEER_PATH = '/pool/peer';
export const STREAM_PATH = '/pool/replicate';

/** A peer request body may carry a joining host's records; bounded all the same. */
const PEER_BODY_MAX_BYTES = 256 * 1024 * 1024;

export interface PeerCredentials {
  /** The pool secret ('' while standalone: nothing is accepted or sent). */
  secret(): string;
  /** PEM certificates of the pool's hosts: the only servers this host will talk to. */
  trusted(): string[];
}

export interface PeerEndpoint {
  readonly host: string;
  readonly port: number;
}

/** `a.b.c.d` or `a.b.c.d:port` (hosts of a pool share one port unless the address names another). */
export function parseAddress(address: string, defaultPort: number): PeerEndpoint {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(address.trim());
  if (m === null || m[1] === undefined) throw new Error(`bad host address ${address}`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`bad port in ${address}`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

export class PeerError extends Error {
  constructor(
    message: string,
    /** True when the peer answered (with a refusal); false when it could not be reached. */
    readonly answered: boolean,
    readonly code?: string,
    readonly params: string[] = [],
  ) {
    super(message);
  }
}

/** True when the request carries the pool secret. */
export function hasPoolSecret(req: http.IncomingMessage, secret: string): boolean {
  const given = req.headers[SECRET_HEADER];
  if (secret === '' || typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function readJsonBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > PEER_BODY_MAX_BYTES) {
        reject(new Error('peer request too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
    req.on('error', reject);
  });
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Splits a stream of text into JSON lines. Linear in the input: a long line (a snapshot of tens of
 * MiB arrives in thousands of chunks) is collected as pieces and joined once, never re-scanned.
 */
export function lineReader(onMessage: (m: unknown) => void): (chunk: string) => void {
  let pieces: string[] = [];
  return (chunk) => {
    let from = 0;
    for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', from)) {
      pieces.push(chunk.slice(from, i));
      const line = pieces.length === 1 ? (pieces[0] as string) : pieces.join('');
      pieces = [];
      from = i + 1;
      if (line.trim() !== '') onMessage(JSON.parse(line));
    }
    if (from < chunk.length) pieces.push(chunk.slice(from));
  };
}

export interface StreamHandle {
  send(message: unknown): void;
  close(): void;
}

export class PeerClient {
  private agent: https.Agent | undefined;
  private agentKey = '';
  /** One TLS context per set of trusted certificates: building one costs ~15 ms of CPU. */
  private context: { key: string; ctx: tls.SecureContext } | undefined;

  constructor(
    private readonly creds: PeerCredentials,
    private readonly defaultPort: number,
  ) {}

  private tlsOptions(): https.AgentOptions {
    const trusted = this.creds.trusted();
    const key = trusted.join('');
    // Without a context given, every connection would build its own from `ca`: a master probing
    // 63 absent hosts spent a second of CPU per heartbeat on that.
    if (this.context?.key !== key) this.context = { key, ctx: tls.createSecureContext({ ca: trusted }) };
    // A pool host's certificate names its hostname, not the address it is reached at: trust is
    // by the pinned certificate itself, so the name check is skipped.
    return { secureContext: this.context.ctx, checkServerIdentity: () => undefined };
  }

  private pooledAgent(): https.Agent {
    const key = this.creds.trusted().join('');
    if (this.agent === undefined || key !== this.agentKey) {
      this.agent?.destroy();
      this.agent = new https.Agent({ keepAlive: true, maxSockets: 8, ...this.tlsOptions() });
      this.agentKey = key;
    }
    return this.agent;
  }

  /** One request/answer. Rejects with PeerError(answered=false) when the peer cannot be reached. */
  call<T>(address: string, op: string, body: Record<string, unknown>, timeoutMs: number): Promise<T> {
    const ep = parseAddress(address, this.defaultPort);
    const text = JSON.stringify({ op, ...body });
    return new Promise<T>((resolve, reject) => {
      const req = https.request(
        {
          host: ep.host,
          port: ep.port,
          method: 'POST',
          path: PEER_PATH,
          agent: this.pooledAgent(),
          headers: {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(text),
            [SECRET_HEADER]: this.creds.secret(),
          },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => reject(new PeerError(e.message, false)));
          res.on('end', () => {
            let answer: { ok?: boolean; error?: string[]; value?: unknown };
            try {
              answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof answer;
            } catch {
              reject(new PeerError(`host ${address} answered HTTP ${res.statusCode ?? 0}`, true));
              return;
            }
            if (answer.ok === true) resolve(answer.value as T);
            else {
              const [code, ...params] = answer.error ?? ['INTERNAL_ERROR'];
              reject(new PeerError(`host ${address} refused ${op}: ${code}`, true, code, params));
            }
          });
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`host ${address} did not answer within ${timeoutMs} ms`)),
      );
      req.on('error', (e) => reject(new PeerError(e.message, false)));
      req.end(text);
    });
  }

  /**
   * Opens the replication stream to `address`. `onMessage` gets each line the master sends;
   * `onClose` is called once, when the stream ends for any reason.
   */
  openStream(
    address: string,
    first: unknown,
    onMessage: (m: unknown) => void,
    onClose: (reason: string) => void,
    /** Any bytes from the master, even the middle of a long line: it is alive. */
    onData: () => void = () => undefined,
  ): StreamHandle {
    const ep = parseAddress(address, this.defaultPort);
    let closed = false;
    const agent = new https.Agent({ keepAlive: false, ...this.tlsOptions() });
    const finish = (reason: string, graceful = false) => {
      if (closed) return;
      closed = true;
      if (graceful) {
        // What was sent (a goodbye) still goes out before the connection is dropped.
        req.end();
        setTimeout(() => {
          req.destroy();
          agent.destroy();
        }, 200).unref();
      } else {
        req.destroy();
        agent.destroy();
      }
      onClose(reason);
    };
    const req = https.request({
      host: ep.host,
      port: ep.port,
      method: 'POST',
      path: STREAM_PATH,
      agent,
      headers: { 'Content-Type': 'application/x-ndjson', [SECRET_HEADER]: this.creds.secret() },
    });
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        finish(`master answered HTTP ${res.statusCode ?? 0}`);
        return;
      }
      res.setEncoding('utf8');
      const feed = lineReader((m) => {
        if (!closed) onMessage(m);
      });
      res.on('data', (chunk: string) => {
        onData();
        try {
          feed(chunk);
        } catch (e) {
          finish(`bad message from master: ${String(e)}`);
        }
      });
      res.on('end', () => finish('master ended the stream'));
      res.on('error', (e) => finish(e.message));
    });
    req.on('error', (e) => finish(e.message));
    req.on('close', () => finish('connection closed'));
    req.write(JSON.stringify(first) + '\n');
    return {
      send: (m) => {
        if (!closed) req.write(JSON.stringify(m) + '\n');
      },
      close: () => finish('closed', true),
    };
  }

  close(): void {
    this.agent?.destroy();
  }
}
