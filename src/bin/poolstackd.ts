#!/usr/bin/env node
// poolstackd: the per-host daemon. Composition root only: parse options, start, stop on signals.
import { existsSync, readFileSync } from 'node:fs';
import { startDaemon } from '../api/daemon.js';
import { restoreDataDir } from '../api/host-backup.js';
import { parseArgs } from './args.js';

const usage = `usage: poolstackd --data-dir DIR --address A --port P [--http-port H] [--driver sim]
                  [--hostname NAME] [--root-password-file F] [--log-level L]
                  [--heartbeat-interval-ms N] [--dead-after-ms N] [--ack-timeout-ms N]
                  [--lease-duration-ms N] [--restore-host-backup FILE]`;

async function main(): Promise<void> {
  const a = parseArgs(
    process.argv.slice(2),
    [
      'data-dir',
      'address',
      'port',
      'http-port',
      'driver',
      'hostname',
      'root-password-file',
      'log-level',
      'auth-failure-delay-ms',
      'heartbeat-interval-ms',
      'dead-after-ms',
      'ack-timeout-ms',
      'lease-duration-ms',
      'restore-host-backup',
    ],
    ['help'],
  );
  if (a.has('help')) {
    console.log(usage);
    return;
  }
  const dataDir = a.get('data-dir');
  const address = a.get('address') ?? '127.0.0.1';
  const port = Number(a.get('port') ?? '443');
  if (dataDir === undefined || !Number.isInteger(port)) throw new Error(usage);
  const driver = a.get('driver') ?? 'sim';
  if (driver !== 'sim') throw new Error(`unknown driver ${driver} (available: sim)`);
  const pwFile = a.get('root-password-file');
  // Only the first start needs the password (its hash is kept in the data dir), so a file
  // removed after that is no obstacle to restarting with the same command line.
  const rootPassword =
    pwFile !== undefined && existsSync(pwFile)
      ? readFileSync(pwFile, 'utf8').trim()
      : process.env.POOLSTACK_ROOT_PASSWORD;
  const httpPort = a.get('http-port');
  const delay = a.get('auth-failure-delay-ms');
  const num = (name: string): number | undefined => {
    const v = a.get(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0)
      throw new Error(`--${name} needs a positive whole number of milliseconds`);
    return n;
  };
  const backup = a.get('restore-host-backup');
  if (backup !== undefined) {
    // The guide's "Restore from backup" of the installation CD: the data directory is rebuilt from
    // an xe host-backup file (once: a restart with the same command line does not do it again).
    const r = await restoreDataDir(backup, dataDir, new Date());
    if (r.restored)
      console.log(
        `poolstackd: restored host ${r.host} from ${backup}` +
          (r.movedAside === undefined ? '' : `; the previous data directory is in ${r.movedAside}`),
      );
  }
  const daemon = await startDaemon({
    dataDir,
    address,
    port,
    httpPort: httpPort === undefined ? undefined : Number(httpPort),
    driver,
    hostname: a.get('hostname'),
    rootPassword,
    authFailureDelayMs: delay === undefined ? undefined : Number(delay),
    logLevel: a.get('log-level'),
    heartbeatIntervalMs: num('heartbeat-interval-ms'),
    deadAfterMs: num('dead-after-ms'),
    ackTimeoutMs: num('ack-timeout-ms'),
    leaseDurationMs: num('lease-duration-ms'),
  });
  const plain = daemon.httpPort === undefined ? '' : `, http://${address}:${daemon.httpPort}/`;
  console.log(`poolstackd ready: https://${address}:${daemon.port}/${plain}`);
  const stop = (signal: string) => {
    console.log(`poolstackd: ${signal}, stopping`);
    daemon.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(e);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  console.error(`poolstackd: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
