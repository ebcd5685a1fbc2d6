// xe's safety prompt for destructive verbs: unless --force, print "Type 'yes' to continue" and
// read one line; anything but yes aborts (exit 0, nothing done), as xe does.
import { createInterface } from 'node:readline';
import type { CliCtx } from '../context.js';

function readLine(): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin });
    let got: string | undefined;
    rl.once('line', (l) => {
      got = l;
      rl.close();
    });
    rl.once('close', () => resolve(got ?? ''));
  });
}

/** True to go ahead. */
export async function confirm(ctx: CliCtx): Promise<boolean> {
  if (ctx.params.get('force') === 'true') return true;
  ctx.io.out("Type 'yes' to continue\n");
  const answer = await readLine();
  if (answer.trim().toLowerCase() === 'yes') return true;
  ctx.io.out(`Aborted (you typed: '${answer}')\n`);
  return false;
}
