// HTTP transfers beside the API, at xapi's paths. `GET /host_backup?session_id=…&host=<ref>`
// answers a host's configuration backup (src/api/host-backup.ts). `GET /pool/xmldbdump?session_id=…` streams the
// pool database as a dump (src/db/dump.ts) from the master; `PUT …&dry_run=true|false` restores
// one (src/impl/pool/restore.ts), after reading and checking all of it. Errors are answered as
// `{"error":[code, params…]}` with an HTTP error status, which XapiClient.transfer turns back into
// the XenAPI error.
import type http from 'node:http';
import { poolDump } from '../impl/pool/backup.js';
import { dryRun, readDump, restore, restoringHost } from '../impl/pool/restore.js';
import type { Services } from '../impl/context.js';
import { checkSession } from '../impl/session.js';
import { ApiError } from '../model/errors.js';
import { HOST_BACKUP_PATH, HOST_RESTORE_PATH } from './host-backup.js';

export const DUMP_PATH = '/pool/xmldbdump';

function fail(res: http.ServerResponse, status: number, error: string[]): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ error }));
}

/** The route handler for the HTTP server; false when the request is not for this route. */
export interface HostBackups {
  backup(host: string): Promise<string>;
  /** Checks and keeps a backup on its host; answers what to do next. */
  stage(host: string, text: string): Promise<string>;
}

export function dbTransferRoute(svc: () => Services, hosts: HostBackups) {
  return (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (![DUMP_PATH, HOST_BACKUP_PATH, HOST_RESTORE_PATH].includes(url.pathname)) return false;
    void serve(svc(), url, req, res, hosts).catch((e: unknown) => {
      if (e instanceof ApiError) {
        if (!res.headersSent) fail(res, e.code === 'SESSION_INVALID' ? 403 : 400, [e.code, ...e.params]);
        else res.destroy();
        return;
      }
      svc().log.error({ err: String(e) }, 'database transfer failed');
      if (!res.headersSent) fail(res, 500, ['INTERNAL_ERROR', String(e)]);
      else res.destroy();
    });
    return true;
  };
}

async function serve(
  svc: Services,
  url: URL,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  hosts: HostBackups,
): Promise<void> {
  checkSession(svc, url.searchParams.get('session_id') ?? '');
  if (!svc.cluster.isMaster) throw new ApiError('HOST_IS_SLAVE', [svc.cluster.masterAddress]);
  if (url.pathname === HOST_BACKUP_PATH) {
    req.resume();
    if (req.method !== 'GET')
      throw new ApiError('MESSAGE_METHOD_UNKNOWN', [`${req.method ?? ''} ${HOST_BACKUP_PATH}`]);
    // xe host-backup host=: the host's own configuration, taken on that host.
    const host = url.searchParams.get('host') ?? '';
    if (svc.db.get('host', host) === undefined) throw new ApiError('HANDLE_INVALID', ['host', host]);
    const text = await hosts.backup(host);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(text);
    svc.audit.info({ call: 'host.backup', host }, 'host configuration backed up');
    return;
  }
  if (url.pathname === HOST_RESTORE_PATH) {
    if (req.method !== 'PUT') {
      req.resume();
      throw new ApiError('MESSAGE_METHOD_UNKNOWN', [`${req.method ?? ''} ${HOST_RESTORE_PATH}`]);
    }
    const host = url.searchParams.get('host') ?? '';
    if (svc.db.get('host', host) === undefined) {
      req.resume();
      throw new ApiError('HANDLE_INVALID', ['host', host]);
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const answer = await hosts.stage(host, Buffer.concat(chunks).toString('utf8'));
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(answer + '\n');
    svc.audit.info({ call: 'host.restore', host }, 'host backup stored on the host');
    return;
  }
  if (req.method === 'GET') return sendDump(svc, res);
  if (req.method === 'PUT') return receiveDump(svc, url.searchParams.get('dry_run') === 'true', req, res);
  req.resume();
  throw new ApiError('MESSAGE_METHOD_UNKNOWN', [`${req.method ?? ''} ${DUMP_PATH}`]);
}

/** Reads the whole dump, checks it, then answers the dry run's plan or restores it. */
async function receiveDump(
  svc: Services,
  dry: boolean,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  // A real restore writes the new database file while the dump is still arriving; anything that
  // refuses the dump, here or in restore(), abandons that file.
  const ahead = dry ? undefined : svc.db.beginRestore();
  if (!dry && ahead === undefined) {
    req.resume();
    const pool = [...svc.db.all('pool').keys()][0] ?? '';
    throw new ApiError('OTHER_OPERATION_IN_PROGRESS', ['pool', pool, 'restore_database', '']);
  }
  try {
    const dump = await readDump(svc, req, ahead).catch((e: unknown) => {
      req.resume();
      throw e;
    });
    const here = await restoringHost(svc);
    const lines = ahead === undefined ? dryRun(dump, here) : await restore(svc, dump, here, ahead);
    if (!dry)
      svc.audit.info(
        { call: 'pool.restore_database', pool: dump.header.pool, generation: dump.header.generation },
        'pool database restored',
      );
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(lines.join('\n') + '\n');
  } finally {
    ahead?.abandon();
  }
}

/** Streams a consistent cut of the pool database (the DB's rows are immutable once committed). */
async function sendDump(svc: Services, res: http.ServerResponse): Promise<void> {
  const dump = poolDump(svc);
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
  for (const chunk of dump.chunks) {
    if (res.destroyed) return; // the client went away
    if (!res.write(chunk))
      await new Promise<void>((resolve) => {
        res.once('drain', resolve);
        res.once('close', resolve);
      });
  }
  res.end();
  svc.audit.info(
    { call: 'pool.dump_database', rows: dump.rows, generation: dump.generation },
    'pool database dumped',
  );
}
