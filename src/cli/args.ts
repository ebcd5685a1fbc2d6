// xe's command-line syntax (newcli.ml, cli_frontend.ml parse_params): the command, `key=value`
// pairs split at the first '=', `map:key=value` pairs, `--flag` meaning `flag=true`, and the
// connection switches -s/-h -p -u -pw -pwf. Connection settings also come from XE_EXTRA_ARGS
// (comma-separated, `\,` escapes a comma) and the ~/.xe file (key=value lines), in that order of
// precedence after the command line.

export interface Connection {
  server: string;
  port: number | undefined;
  username: string;
  password: string;
  nossl: boolean;
}

export interface ParsedArgs {
  command: string;
  /** Every key=value and --flag (as flag=true), in order, without connection settings. */
  params: Map<string, string>;
  connection: Connection;
  /** Set when a password came from -pwf FILE (read by the caller). */
  passwordFile: string | undefined;
  minimal: boolean;
  debug: boolean;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const switches: Record<string, string> = {
  '-s': 'server',
  '-h': 'server',
  '-p': 'port',
  '-u': 'username',
  '-pw': 'password',
  '-pwf': 'passwordfile',
};
/** Parameters that configure the connection rather than the command (cli_frontend.ml). */
const connectionKeys = new Set(['server', 'port', 'username', 'password', 'passwordfile', 'nossl', 'debug']);

/** Splits XE_EXTRA_ARGS on unescaped commas. */
export function splitExtraArgs(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && s[i + 1] === ',') {
      cur += ',';
      i++;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur !== '') out.push(cur);
  return out;
}

/** Lines of ~/.xe: `key=value`; blank lines and # comments ignored. */
export function parseRcFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) continue;
    const eq = l.indexOf('=');
    if (eq > 0) out.set(l.slice(0, eq).trim(), l.slice(eq + 1).trim());
  }
  return out;
}

/** Tokens to key/value settings; returns the command (first bare token) too. */
function tokenize(
  argv: readonly string[],
  into: Map<string, string>,
  allowCommand: boolean,
): string | undefined {
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a in switches) {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`Missing parameter for switch ${a}`);
      into.set(switches[a] as string, v);
    } else if (a.startsWith('--')) {
      into.set(a.slice(2), 'true');
    } else if (a.startsWith('-') && !a.includes('=')) {
      throw new UsageError(`Unknown switch: ${a}`);
    } else if (a.includes('=')) {
      const eq = a.indexOf('=');
      into.set(a.slice(0, eq), a.slice(eq + 1));
    } else if (allowCommand && command === undefined) {
      command = a;
    } else if (command === 'help') {
      // `xe help vm-start`: the command to describe.
      into.set(a, 'true');
    } else {
      throw new UsageError(`Syntax error: ${a} (expected name=value)`);
    }
  }
  return command;
}

export function parseArgs(
  argv: readonly string[],
  extraArgs: string | undefined,
  rc: Map<string, string>,
): ParsedArgs {
  const given = new Map<string, string>();
  if (argv.length > 0 && (argv[0] ?? '').includes('=') && !(argv[0] ?? '').startsWith('-')) {
    throw new UsageError('Syntax error: command name is missing');
  }
  const command = tokenize(argv, given, true) ?? '';
  const extra = new Map<string, string>();
  if (extraArgs !== undefined && extraArgs !== '') tokenize(splitExtraArgs(extraArgs), extra, false);
  const pick = (k: string): string | undefined => given.get(k) ?? extra.get(k) ?? rc.get(k);
  const nossl = pick('nossl') === 'true';
  const portText = pick('port');
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && (!Number.isInteger(port) || port <= 0 || port > 65535))
    throw new UsageError(`Invalid port: ${portText}`);
  const params = new Map<string, string>();
  for (const [k, v] of given) if (!connectionKeys.has(k)) params.set(k, v);
  return {
    command,
    params,
    connection: {
      server: pick('server') ?? '127.0.0.1',
      port,
      username: pick('username') ?? 'root',
      password: pick('password') ?? '',
      nossl,
    },
    passwordFile: pick('passwordfile'),
    minimal: params.get('minimal') === 'true',
    debug: pick('debug') === 'true',
  };
}

/** The URL xe talks to: HTTPS on 443 unless --nossl (HTTP on 80), or the given port. */
export function serverUrl(c: Connection): string {
  const host = c.server.includes(':') && !c.server.startsWith('[') ? `[${c.server}]` : c.server;
  const port = c.port ?? (c.nossl ? 80 : 443);
  return `${c.nossl ? 'http' : 'https'}://${host}:${port}`;
}
