// `xe help`, `xe help --all` and `xe help <command>`, laid out as xe does (rio_help), plus the
// "did you mean" suggestion for unknown commands.
import type { Command } from './context.js';
import { layoutRecord } from './records.js';

const usage = `Usage:
  xe <command>
    [ -s <server> ]            XenServer host
    [ -p <port> ]              XenServer port number
    [ -u <username> -pw <password> | -pwf <password file> ]
                               User authentication (password or file)
    [ --nossl ]                Disable SSL/TLS
    [ --debug ]                Enable debug output
    [ --debug-on-fail ]        Enable debug output only on failure
    [ --traceparent <value> ]  Distributed tracing context
    [ <other arguments> ... ]  Command-specific options

To get help on a specific command:
  xe help <command>

`;

const vmSelectorHelp =
  " VMs can be specified by filtering the full list of VMs on the values of zero or more fields. For example, specifying 'uuid=<some_uuid>' will select only the VM with that uuid, and 'power-state=halted' will select only VMs whose 'power-state' field is equal to 'halted'. The special pseudo-field 'vm' matches either of name-label or uuid. Where multiple VMs are matching, the option '--multiple' must be specified to perform the operation. The full list of fields that can be matched can be obtained by the command 'xe vm-list params=all'. If no parameters to select VMs are given, the operation will be performed on all VMs.";

const hostSelectorHelp =
  " Hosts can be specified by filtering the full list of hosts on the values of zero or more fields. For example, specifying 'uuid=<some_uuid>' will select only the host with that uuid, and 'enabled=true' will select only hosts whose 'enabled' field is equal to 'true'. The special pseudo-field 'host' matches any of hostname, name-label or uuid. Where multiple hosts are matching, and the operation can be performed on multiple hosts, the option '--multiple' must be specified to perform the operation. The full list of fields that can be matched can be obtained by the command 'xe host-list params=all'. If no parameters to select hosts are given, the operation will be performed on all hosts.";

/** xe's make_list: names joined by ", "; a new line (indented 4) when the indented line plus the next name would pass 74. */
function wrapList(names: readonly string[]): string {
  const lines: string[] = [];
  let cur = '';
  for (const n of names) {
    if (cur !== '' && 4 + cur.length + n.length > 74) {
      lines.push(cur);
      cur = n;
    } else cur = cur === '' ? n : `${cur}, ${n}`;
  }
  if (cur !== '') lines.push(cur);
  return lines.map((l) => `    ${l}\n`).join('');
}

function commandHelp(cmd: Command): string {
  // xe pads these keys itself (rio_help), so the record is 24 wide.
  return (
    layoutRecord([
      { key: 'command name        ', value: cmd.name },
      { key: 'reqd params     ', value: cmd.reqd.join(', ') },
      { key: 'optional params ', value: cmd.optional.join(', ') },
      {
        key: 'description     ',
        value:
          cmd.help +
          (cmd.optional.includes('<vm-selectors>')
            ? vmSelectorHelp
            : cmd.optional.includes('<host-selectors>')
              ? hostSelectorHelp
              : ''),
      },
    ]) + '\n\n'
  );
}

export function helpText(table: ReadonlyMap<string, Command>, params: Map<string, string>): string {
  // xe sorts by byte order (OCaml compare), not by locale.
  const sorted = [...table.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (params.get('all') === 'true') {
    const groups = [
      ['host', sorted.filter((c) => c.name.startsWith('host-'))],
      ['vm', sorted.filter((c) => c.name.startsWith('vm-'))],
      ['other', sorted.filter((c) => !c.name.startsWith('host-') && !c.name.startsWith('vm-'))],
    ] as const;
    if (params.get('minimal') === 'true') return sorted.map((c) => c.name).join(',') + '\n';
    return (
      usage +
      'Full command list\n-----------------\n\n' +
      groups.map(([, cmds]) => wrapList(cmds.map((c) => c.name))).join('    \n')
    );
  }
  const named = [...params.keys()].filter((k) => params.get(k) === 'true' && !['all', 'minimal'].includes(k));
  if (named.length > 0)
    return named
      .map((n) => (table.has(n) ? commandHelp(table.get(n) as Command) : `Unknown command '${n}'\n`))
      .join('');
  const common = sorted.filter((c) => c.standard === true).map((c) => c.name);
  if (params.get('minimal') === 'true') return common.join(',') + '\n';
  return (
    usage +
    'To get a full listing of commands:\n  xe help --all\n\nCommon command list\n-------------------\n\n' +
    wrapList(common)
  );
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  }
  return (d[a.length] as number[])[b.length] ?? 0;
}

/** The closest known command, if it is close enough to be a likely typo. */
export function suggest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dd = distance(name, k);
    if (dd < bestD) {
      best = k;
      bestD = dd;
    }
  }
  return bestD <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}
