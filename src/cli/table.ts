// The xe command table: the generic commands derived from the datamodel for every exposed class,
// then the hand-written verbs. A new verb (pool-join, host-backup, …) is one entry in a verbs file.
import type { Command } from './context.js';
import { exposed, genericCommands } from './generic.js';
import { otherCommands } from './verbs/other.js';
import { poolCommands } from './verbs/pool.js';
import { vmCommands } from './verbs/vm.js';

export function commandTable(): Map<string, Command> {
  const table = new Map<string, Command>();
  for (const cls of Object.keys(exposed)) for (const c of genericCommands(cls)) table.set(c.name, c);
  for (const c of [...vmCommands(), ...otherCommands(), ...poolCommands()]) table.set(c.name, c);
  return table;
}
