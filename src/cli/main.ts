// xe's driver: parse the command line, find the command, check its required parameters, log in,
// run it, and report failures in xe's words with exit code 1.
import { XapiCallError, XapiClient } from '../rpc/client.js';
import { parseArgs, serverUrl, UsageError, type ParsedArgs } from './args.js';
import { CliError, type CliCtx, type Command, type Io } from './context.js';
import { formatApiError, type SessionCall } from './errors.js';
import { helpText, suggest } from './help.js';
import { RefResolver } from './records.js';
import { commandTable } from './table.js';

export interface Environment {
  argv: readonly string[];
  env: Record<string, string | undefined>;
  /** Contents of ~/.xe, if any. */
  rcText: string | undefined;
  readFile(path: string): string;
  io: Io;
  signal: AbortSignal;
}

function checkRequired(cmd: Command, params: Map<string, string>): void {
  for (const p of cmd.reqd)
    if (!params.has(p)) throw new CliError(`Required parameter not found: ${p}`, true);
}

/** xe's session on the server, and how to end it. */
interface Session {
  readonly api: XapiClient;
  readonly ref: string;
  readonly local: boolean;
}

/**
 * Logs in as xapi's CLI does (xapi_cli.ml with_session): session.login_with_password, or for
 * local (Neverforward) commands session.slave_local_login_with_password, which pool members
 * accept too.
 */
async function connect(args: ParsedArgs, envr: Environment, local: boolean): Promise<Session> {
  const password =
    args.passwordFile !== undefined
      ? (envr.readFile(args.passwordFile).split('\n')[0] ?? '')
      : args.connection.password;
  const api = new XapiClient(serverUrl(args.connection), { rejectUnauthorized: false });
  try {
    const ref = await api.call(
      local ? 'session.slave_local_login_with_password' : 'session.login_with_password',
      [args.connection.username, password],
    );
    if (typeof ref !== 'string') throw new Error('login returned no session reference');
    return { api, ref, local };
  } catch (e) {
    api.close();
    if (e instanceof XapiCallError && e.code === 'SESSION_AUTHENTICATION_FAILED')
      throw new CliError('Authentication failed', true);
    throw e;
  }
}

/** Calls the API under the session. */
function caller(s: Session): SessionCall {
  return (method, ...args) => s.api.call(method, [s.ref, ...args]);
}

async function disconnect(s: Session): Promise<void> {
  // A command may have changed the host's role (pool-join, pool-designate-new-master), after
  // which the old session is refused; that is no failure of the command.
  await s.api.call(s.local ? 'session.local_logout' : 'session.logout', [s.ref]).catch(() => undefined);
  s.api.close();
}

/** Runs xe; returns the process exit code. */
export async function runXe(envr: Environment): Promise<number> {
  const { io } = envr;
  let session: Session | undefined;
  try {
    const rc =
      envr.rcText === undefined
        ? new Map<string, string>()
        : (await import('./args.js')).parseRcFile(envr.rcText);
    const args = parseArgs(envr.argv, envr.env.XE_EXTRA_ARGS, rc);
    const table = commandTable();
    if (args.command === '' || args.command === 'help') {
      io.out(helpText(table, args.params));
      return 0;
    }
    const cmd = table.get(args.command);
    if (cmd === undefined) {
      const near = suggest(args.command, [...table.keys()]);
      io.err(
        `Unknown command: ${args.command}\n${near === undefined ? '' : `Did you mean: ${near}?\n`}For usage run: 'xe help'\n`,
      );
      return 1;
    }
    checkRequired(cmd, args.params);
    session = await connect(args, envr, cmd.local === true);
    const call = caller(session);
    let outputSeen = false;
    const counted: Io = { ...io, out: (t) => ((outputSeen = true), io.out(t)) };
    const ctx: CliCtx = {
      api: session.api,
      session: session.ref,
      io: counted,
      params: args.params,
      minimal: args.minimal,
      signal: envr.signal,
      refs: new RefResolver(
        (cls) => call(`${cls}.get_all_records`) as Promise<Record<string, Record<string, unknown>>>,
      ),
      call,
    };
    await cmd.run(ctx);
    // In --minimal mode xe always ends with one (possibly empty) line.
    if (args.minimal && !outputSeen) io.out('\n');
    return 0;
  } catch (e) {
    if (e instanceof CliError) {
      if (!e.reported)
        io.err(
          `${e.usageHint ? e.message : `Error: ${e.message}`}\n${e.usageHint ? "For usage run: 'xe help'\n" : ''}`,
        );
    } else if (e instanceof UsageError) io.err(`${e.message}\n`);
    else if (e instanceof XapiCallError)
      io.err(await formatApiError(session === undefined ? undefined : caller(session), e));
    else if (e instanceof Error && 'code' in e && (e as { code: unknown }).code === 'ECONNREFUSED') {
      io.err(`Error: Connection refused calling connect()\n`);
    } else io.err(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    if (session !== undefined) await disconnect(session);
  }
}
