// Pool membership and recovery verbs, with xapi's syntax, help, warnings and prompts
// (cli_frontend.ml, cli_operations.ml): pool-join, pool-eject, host-forget, host-declare-dead,
// pool-designate-new-master, pool-emergency-transition-to-master, pool-emergency-reset-master,
// pool-recover-slaves, pool-sync-database, host-is-in-emergency-mode.
//
// xapi changes a host's role by rewriting pool.conf and restarting its agent 10 s later, and its
// CLI says so ("Host agent will restart and … in 10. seconds..."). Poolstack changes roles in
// the running daemon and the API call returns when the change is done, so these verbs print
// what is true when they return, or nothing.
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { classDef } from '../../model/index.js';
import { XapiCallError } from '../../rpc/client.js';
import { CliError, required, type CliCtx, type Command } from '../context.js';
import { minimalJoin } from '../records.js';
import { confirm } from './confirm.js';
import { runTask } from './task-wait.js';

type Rec = Record<string, unknown>;

function flag(ctx: CliCtx, name: string): boolean {
  return ctx.params.get(name) === 'true';
}

/**
 * xe's printer for a list of lines (Cli_printer.PList): one per line, or with --minimal one line
 * of comma-joined, comma-escaped values.
 */
function printList(ctx: CliCtx, lines: readonly string[]): void {
  if (ctx.minimal) ctx.io.out(minimalJoin(lines) + '\n');
  else for (const l of lines) ctx.io.out(l + '\n');
}

/**
 * Calls `cls.name`, as a task (Ctrl-C cancels it, progress on a terminal) when the datamodel
 * declares it async. Only for calls that leave the host xe talks to in its role: a task lives on
 * that host and is polled through xe's session, which a role change would end.
 */
async function callLong(ctx: CliCtx, cls: string, name: string, ...args: unknown[]): Promise<unknown> {
  const method = `${cls}.${name}`;
  return classDef(cls)?.messages[name]?.async === true
    ? runTask(ctx, method, ...args)
    : ctx.call(method, ...args);
}

async function hostByUuid(ctx: CliCtx, param: string): Promise<string> {
  return (await ctx.call('host.get_by_uuid', required(ctx, param))) as string;
}

async function poolJoin(ctx: CliCtx): Promise<void> {
  const address = required(ctx, 'master-address');
  const username = required(ctx, 'master-username');
  const password = required(ctx, 'master-password');
  try {
    // Not a task: the joining host takes the pool's database, so a task created in its own
    // database, and xe's session, do not outlive the join.
    await ctx.call(flag(ctx, 'force') ? 'pool.join_force' : 'pool.join', address, username, password);
  } catch (e) {
    if (e instanceof XapiCallError && e.code === 'JOINING_HOST_CONNECTION_FAILED') {
      // xapi's text (cli_operations.ml pool_join). xapi prints it on stdout and exits 0; a failed
      // join must not look like success to a script, so it goes to stderr with exit 1.
      ctx.io.err(
        'Host cannot contact destination host: connection refused.\n' +
          'Check destination host has services running and accessible from this host.\n',
      );
      throw new CliError('', false, true);
    }
    throw e;
  }
  // xapi prints "Host agent will restart and attempt to join pool in 10. seconds..."; here the
  // host is a pool member when the call returns and nothing restarts, so nothing is printed.
}

/** "VDI: <uuid> (<name>)" for each VDI on SRs that only `host` can see (xapi's best effort). */
async function vdisLostOnEject(ctx: CliCtx, host: string): Promise<string[]> {
  try {
    const [pbds, srs, vdis] = await Promise.all([
      ctx.refs.records('PBD'),
      ctx.refs.records('SR'),
      ctx.refs.records('VDI'),
    ]);
    const out: string[] = [];
    const hostOf = (pbd: unknown) => pbds.get(String(pbd))?.host;
    for (const pbd of pbds.values()) {
      if (pbd.host !== host) continue;
      const sr = srs.get(String(pbd.SR));
      if (sr === undefined) continue;
      const others = ((sr.PBDs as unknown[] | undefined) ?? []).map(hostOf).filter((h) => h !== host);
      if (others.length > 0) continue;
      for (const v of (sr.VDIs as unknown[] | undefined) ?? []) {
        const vdi: Rec | undefined = vdis.get(String(v));
        if (vdi !== undefined) out.push(`VDI: ${String(vdi.uuid)} (${String(vdi.name_label)})`);
      }
    }
    return out;
  } catch {
    return [];
  }
}

async function poolEject(ctx: CliCtx): Promise<void> {
  const host = await hostByUuid(ctx, 'host-uuid');
  if (!flag(ctx, 'force')) {
    const lost = await vdisLostOnEject(ctx, host);
    ctx.io.out(
      "WARNING: Ejecting a host from the pool will reinitialise that host's local SRs.\n" +
        'WARNING: Any data contained with the local SRs will be lost.\n' +
        (lost.length > 0 ? `The following VDI objects will be destroyed:\n${lost.join('\n')}\n` : ''),
    );
    if (!(await confirm(ctx))) return;
  }
  await callLong(ctx, 'pool', 'eject', host);
  // xapi: "Specified host will attempt to restart as a master of a new pool in 10. seconds...";
  // the ejected host is already back, standalone, when pool.eject returns.
  printList(ctx, ['Specified host is now a master of a new pool.']);
}

/** xapi's host_careful_op: warnings and a 'yes' prompt unless --force, then the call. */
function hostCarefulOp(warnings: readonly string[], op: (ctx: CliCtx, host: string) => Promise<unknown>) {
  return async (ctx: CliCtx): Promise<void> => {
    const host = await hostByUuid(ctx, 'uuid');
    if (!flag(ctx, 'force')) {
      ctx.io.out(warnings.map((w) => w + '\n').join(''));
      if (!(await confirm(ctx))) return;
    }
    await op(ctx, host);
  };
}

const forgetWarnings = [
  'WARNING: A host should only be forgotten if it is physically unrecoverable;',
  "WARNING: if possible, Hosts should be 'ejected' from the Pool instead.",
  'WARNING: Once a host has been forgotten it will have to be re-installed.',
  'WARNING: This operation is irreversible.',
];

const declareDeadWarnings = [
  'WARNING: A host should only be declared dead if it is verified offline.',
  'WARNING: Performing this operation if the host is still online and has any',
  'WARNING: running VMs may lead to possible data loss and/or corruption.',
];

/**
 * Whether the host xe talks to is the pool master, by its own database: the session's host is
 * the pool's master. xapi asks its local role file; when this cannot be told (an older daemon,
 * a database that will not answer) the API decides.
 */
async function connectedToMaster(ctx: CliCtx): Promise<boolean> {
  try {
    const me = await ctx.call('session.get_this_host', ctx.session);
    const pools = (await ctx.call('pool.get_all')) as string[];
    if (pools[0] === undefined) return false;
    return (await ctx.call('pool.get_master', pools[0])) === me;
  } catch {
    return false;
  }
}

async function emergencyTransitionToMaster(ctx: CliCtx): Promise<void> {
  const force = flag(ctx, 'force');
  if (!force && (await connectedToMaster(ctx))) {
    printList(ctx, ["Host agent is already master. Use '--force' to execute the operation anyway."]);
    return;
  }
  // Poolstack's `force` also overrides its safety refusals (MASTER_STILL_ANSWERS,
  // HOST_HOLDS_NEWER_DATABASE, POOL_QUORUM_UNREACHABLE), as --force is the operator's "I am sure".
  await ctx.call('pool.emergency_transition_to_master', force);
  // xapi: "Host agent will restart and transition to master in 10. seconds..."
  printList(ctx, ['Host agent is now master.']);
}

async function emergencyResetMaster(ctx: CliCtx): Promise<void> {
  const address = required(ctx, 'master-address');
  await ctx.call('pool.emergency_reset_master', address);
  // xapi: "Host agent will restart and become slave of <address> in 10. seconds..."
  printList(ctx, [`Host agent is now a slave of ${address}.`]);
}

async function recoverSlaves(ctx: CliCtx): Promise<void> {
  const hosts = (await callLong(ctx, 'pool', 'recover_slaves')) as string[];
  const uuids: string[] = [];
  for (const h of hosts) uuids.push(String(await ctx.call('host.get_uuid', h)));
  printList(ctx, uuids);
}

export function poolCommands(): Command[] {
  return [
    {
      name: 'pool-join',
      reqd: ['master-address', 'master-username', 'master-password'],
      optional: ['force'],
      help: 'Instruct host to join an existing pool.',
      run: poolJoin,
    },
    {
      name: 'pool-eject',
      reqd: ['host-uuid'],
      optional: [],
      help: 'Instruct host to leave an existing pool.',
      run: poolEject,
    },
    {
      name: 'host-forget',
      reqd: ['uuid'],
      optional: [],
      help: "Forget about the host without contacting it explicitly. WARNING: this call is useful if the host to 'forget' is dead; however, if the host is live and part of the pool, you should consider using pool-eject instead.",
      run: hostCarefulOp(forgetWarnings, (ctx, host) => callLong(ctx, 'host', 'destroy', host)),
    },
    {
      name: 'host-declare-dead',
      reqd: ['uuid'],
      optional: [],
      help: 'Declare that the the host is dead without contacting it explicitly. WARNING: This call is dangerous and can cause data loss if the host is not actually dead',
      run: hostCarefulOp(declareDeadWarnings, (ctx, host) => callLong(ctx, 'host', 'declare_dead', host)),
    },
    {
      name: 'pool-designate-new-master',
      reqd: ['host-uuid'],
      optional: [],
      help: 'Request an orderly handover of the role of master to another host.',
      // Not a task: the master xe talks to becomes a member during the call, after which it no
      // longer answers for tasks in the pool database under xe's session.
      run: async (ctx) => {
        await ctx.call('pool.designate_new_master', await hostByUuid(ctx, 'host-uuid'));
      },
    },
    {
      name: 'pool-dump-database',
      reqd: ['file-name'],
      optional: [],
      help: 'Download a dump of the pool database.',
      run: dumpDatabase,
    },
    {
      name: 'pool-restore-database',
      reqd: ['file-name'],
      optional: ['dry-run'],
      help: 'Restore a dump of the pool database to the server.',
      run: restoreDatabase,
    },
    {
      name: 'host-backup',
      reqd: ['host', 'file-name'],
      optional: [],
      help: "Download a backup of the host's configuration (restore it with poolstackd --restore-host-backup).",
      run: hostBackup,
    },
    {
      name: 'host-restore',
      reqd: ['host', 'file-name'],
      optional: [],
      help: "Upload a backup of the host's configuration to the host, to restore with poolstackd --restore-host-backup.",
      run: hostRestore,
    },
    {
      name: 'pool-sync-database',
      reqd: [],
      optional: [],
      help: 'Synchronise the current database across all hosts in the pool.',
      run: async (ctx) => {
        await callLong(ctx, 'pool', 'sync_database');
      },
    },
    {
      name: 'pool-emergency-reset-master',
      reqd: ['master-address'],
      optional: [],
      help: 'Instruct slave to reset master address.',
      local: true,
      run: emergencyResetMaster,
    },
    {
      name: 'pool-emergency-transition-to-master',
      reqd: [],
      optional: ['force'],
      help: "Instruct slave to become pool master. The operation will be ignored if this host is already master; the optional parameter '--force' will force the operation.",
      local: true,
      run: emergencyTransitionToMaster,
    },
    {
      name: 'pool-recover-slaves',
      reqd: [],
      optional: [],
      help: 'Instruct master to try and reset master-address of all slaves currently running in emergency mode.',
      run: recoverSlaves,
    },
    {
      name: 'host-is-in-emergency-mode',
      reqd: [],
      optional: [],
      help: 'Query the target host to discover if it is in emergency mode.',
      local: true,
      run: async (ctx) => {
        const mode = await ctx.call('host.is_in_emergency_mode');
        // A message (Cli_printer.PMsg), which xe leaves out with --minimal.
        if (!ctx.minimal) ctx.io.out(`${mode === true ? 'true' : 'false'}\n`);
      },
    },
  ];
}

/**
 * xe pool-dump-database file-name=: the master streams the dump (GET /pool/xmldbdump) and xe
 * writes it on this machine. It is written under a temporary name and renamed at the end, so a
 * failed or interrupted download never leaves a file that looks like a complete backup.
 */
async function dumpDatabase(ctx: CliCtx): Promise<void> {
  await download(ctx, '/pool/xmldbdump', { session_id: ctx.session }, required(ctx, 'file-name'));
}

/** Writes what the server sends under a temporary name, renamed when complete. */
async function download(
  ctx: CliCtx,
  path: string,
  query: Record<string, string>,
  file: string,
): Promise<void> {
  const partial = `${file}.partial`;
  const res = await ctx.api.transfer('GET', path, query);
  try {
    await pipeline(res, createWriteStream(partial, { mode: 0o600 }), { signal: ctx.signal });
    await rename(partial, file);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
}

/**
 * xe pool-restore-database file-name= [dry-run=true] [--force]: uploads the dump to the host xe
 * talks to (PUT /pool/xmldbdump), which checks all of it before changing anything. Without
 * dry-run it must be forced, as in xapi; the restore happens in-process (no reboot).
 */
async function restoreDatabase(ctx: CliCtx): Promise<void> {
  const file = required(ctx, 'file-name');
  const dry = ctx.params.get('dry-run') === 'true';
  if (!dry && !flag(ctx, 'force'))
    throw new CliError(
      'This operation will restore the database backup to this host, making it the master. The other hosts of the backup are kept as records, to re-join or be forgotten. This operation must be forced (use --force).',
    );
  const input = createReadStream(file);
  await new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', (e) => reject(new CliError(`Cannot read ${file}: ${e.message}`)));
  });
  const res = await ctx.api.transfer(
    'PUT',
    '/pool/xmldbdump',
    { session_id: ctx.session, dry_run: String(dry) },
    input,
  );
  let text = '';
  for await (const chunk of res) text += String(chunk);
  ctx.io.out(text);
}

/** The host named by `host=` (uuid, name-label or hostname), exactly one. */
async function hostSelector(ctx: CliCtx): Promise<string> {
  const sel = required(ctx, 'host');
  const all = (await ctx.call('host.get_all_records')) as Record<
    string,
    { uuid: string; name_label: string; hostname: string }
  >;
  const hits = Object.entries(all).filter(
    ([, h]) => h.uuid === sel || h.name_label === sel || h.hostname === sel,
  );
  if (hits.length !== 1)
    throw new CliError(hits.length === 0 ? 'No matching hosts found' : 'Multiple matches found');
  return hits[0]?.[0] ?? '';
}

/**
 * xe host-backup host= file-name=: the host's configuration (identity, certificates, pool secret
 * and role, the pool database as it holds it) written on this machine, under a temporary name
 * renamed when complete. Restore it with `poolstackd --restore-host-backup FILE` (docs/recovery.md).
 */
async function hostBackup(ctx: CliCtx): Promise<void> {
  const host = await hostSelector(ctx);
  await download(ctx, '/host_backup', { session_id: ctx.session, host }, required(ctx, 'file-name'));
}

/**
 * xe host-restore host= file-name=: the host checks the backup is intact and its own, and keeps it
 * for `poolstackd --restore-host-backup` (xapi keeps it on the backup partition for the installer).
 */
async function hostRestore(ctx: CliCtx): Promise<void> {
  const host = await hostSelector(ctx);
  const file = required(ctx, 'file-name');
  const input = createReadStream(file);
  await new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', (e) => reject(new CliError(`Cannot read ${file}: ${e.message}`)));
  });
  const res = await ctx.api.transfer('PUT', '/host_restore', { session_id: ctx.session, host }, input);
  let text = '';
  for await (const chunk of res) text += String(chunk);
  ctx.io.out(text);
}
