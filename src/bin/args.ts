// Minimal `--name value` / `--flag` parsing for the composition roots; unknown options are errors.
export type Parsed = Map<string, string>;

export function parseArgs(
  argv: readonly string[],
  valued: readonly string[],
  flags: readonly string[] = [],
): Parsed {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const eq = a.indexOf('=');
    const name = a.startsWith('--') ? (eq > 0 ? a.slice(2, eq) : a.slice(2)) : '';
    if (valued.includes(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new Error(`option --${name} needs a value`);
      out.set(name, v);
    } else if (flags.includes(name)) out.set(name, 'true');
    else throw new Error(`unknown option: ${a}`);
  }
  return out;
}
