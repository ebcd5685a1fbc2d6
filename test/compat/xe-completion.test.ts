// Proves that contrib/bash-completion/xe, sourced in a real bash and driven through `_xe` with COMP_WORDS/COMP_CWORD split as bash splits them, completes xe command names, a command's parameter names and uuid=/vm=/template=/params= values, asking the real xe binary (reached through XE_EXTRA_ARGS) about a real poolstackd.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  projectRoot,
  startDaemonProcess,
  TEST_PASSWORD,
  type DaemonHandle,
} from '../../src/testing/daemon-process.js';
import { cleanEnv, finish, runProcess, tracker, Xe, xeJs } from './xe-helpers.js';

const SUITE_TIMEOUT_MS = 120_000;
const script = join(projectRoot, 'contrib', 'bash-completion', 'xe');
const hasBash = spawnSync('bash', ['-c', 'exit 0']).status === 0;

describe(
  'bash completion for xe',
  { timeout: SUITE_TIMEOUT_MS, skip: hasBash ? false : 'bash not found' },
  () => {
    let daemon: DaemonHandle | undefined;
    let xe: Xe | undefined;
    let bin = '';
    const { failed, track } = tracker();
    let vm = '';

    before(async () => {
      daemon = await startDaemonProcess({ name: 'xe-completion' });
      xe = new Xe(daemon);
      vm = (
        await xe.ok(['vm-install', 'template=Debian Bookworm 12', 'new-name-label=completion-vm'])
      ).trim();
      // The completion runs `xe` from PATH, as an installed xe would be.
      bin = mkdtempSync(join(tmpdir(), 'xe-bin-'));
      writeFileSync(join(bin, 'xe'), `#!/bin/sh\nexec "${process.execPath}" "${xeJs}" "$@"\n`);
      chmodSync(join(bin, 'xe'), 0o755);
    });

    after(async () => {
      if (bin !== '') rmSync(bin, { recursive: true, force: true });
      xe?.cleanup();
      await finish(daemon, 'xe-completion', failed());
    });

    /** Sources the script, sets COMP_WORDS to `words` (cursor on the last one), runs _xe; COMPREPLY. */
    async function complete(words: string[], line?: string): Promise<string[]> {
      assert.ok(daemon && xe);
      const env = cleanEnv(xe.home, {
        PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`,
        XE_EXTRA_ARGS: `server=${daemon.address},port=${daemon.httpPort},nossl=true,password=${TEST_PASSWORD}`,
        ...(line === undefined ? {} : { COMP_LINE: line, COMP_POINT: String(line.length) }),
      });
      const program = [
        'source "$0" || exit 3',
        'complete -p xe >/dev/null || exit 4',
        'COMP_WORDS=("$@")',
        'COMP_CWORD=$(( $# - 1 ))',
        '_xe',
        'printf "%s\\n" "${COMPREPLY[@]}"',
      ].join('\n');
      // Bounded: bash (and the xe runs it makes) are killed after a minute.
      const r = spawnSync('bash', ['--norc', '--noprofile', '-c', program, script, ...words], {
        env,
        encoding: 'utf8',
        timeout: 60_000,
      });
      if (r.error !== undefined) throw r.error;
      await Promise.resolve();
      assert.equal(r.status, 0, `bash exited ${String(r.status)}: ${r.stderr}`);
      return r.stdout.split('\n').filter((l) => l !== '');
    }

    it(
      'completes a command name: xe vm-st<TAB> offers vm-start',
      track(async () => {
        const got = await complete(['xe', 'vm-st']);
        assert.deepEqual(got, ['vm-start ']);
      }),
    );

    it(
      'offers command families first, then the names of the one family left',
      track(async () => {
        const families = await complete(['xe', '']);
        for (const f of ['vm-', 'host-', 'sr-', 'vdi-', 'pool-'])
          assert.ok(families.includes(f), `offers ${f}`);
        assert.ok(!families.includes('vm-start '), 'no full names while several families match');
        const vmCommands = await complete(['xe', 'vm-']);
        assert.ok(vmCommands.includes('vm-start ') && vmCommands.includes('vm-list '));
        assert.ok(vmCommands.every((c) => c.startsWith('vm-')));
        assert.deepEqual(await complete(['xe', 'help', 'vm-shut']), ['vm-shutdown ']);
      }),
    );

    it(
      'completes parameter names: xe vm-start <TAB> offers vm= and the optional parameters',
      track(async () => {
        const got = await complete(['xe', 'vm-start', '']);
        for (const p of ['vm=', 'force=', 'on=', 'paused='])
          assert.ok(got.includes(p), `offers ${p}: ${got.join(' ')}`);
        // With a prefix, <vm-selectors> also brings vm-list's fields.
        const p = await complete(['xe', 'vm-start', 'power']);
        assert.ok(p.includes('power-state='), `offers power-state=: ${p.join(' ')}`);
        // Parameters already on the line are not offered again.
        const rest = await complete(
          ['xe', 'vm-param-get', 'uuid', '=', vm, ''],
          `xe vm-param-get uuid=${vm} `,
        );
        assert.deepEqual(rest.sort(), ['param-key=', 'param-name=']);
      }),
    );

    it(
      'completes uuid= with the uuids of the command class',
      track(async () => {
        assert.ok(xe);
        const uuids = (await xe.minimal(['vm-list', 'params=uuid'])).sort();
        assert.ok(uuids.includes(vm));
        const got = await complete(['xe', 'vm-param-list', 'uuid', '=']);
        assert.deepEqual(got.map((u) => u.trim()).sort(), uuids);
        const some = await complete(['xe', 'vm-param-list', 'uuid', '=', vm.slice(0, 8)]);
        assert.deepEqual(some, [`${vm} `]);
        const sr = (await xe.minimal(['sr-list']))[0] ?? '';
        assert.deepEqual(await complete(['xe', 'vdi-create', 'sr-uuid', '=']), [`${sr} `]);
      }),
    );

    it(
      'completes vm= and template= with names, escaped for the shell',
      track(async () => {
        const vms = await complete(['xe', 'vm-start', 'vm', '=']);
        assert.ok(vms.includes('completion-vm '), vms.join('|'));
        assert.ok(vms.includes('Control\\ domain\\ on\\ host:\\ xe-completion '), vms.join('|'));
        // After the ':' of a name bash replaces only what follows it.
        const tail = await complete([
          'xe',
          'vm-start',
          'vm',
          '=',
          'Control\\ domain\\ on\\ host',
          ':',
          '\\ xe',
        ]);
        assert.deepEqual(tail, ['\\ xe-completion ']);
        assert.deepEqual(await complete(['xe', 'vm-install', 'template', '=', 'Debian']), [
          'Debian\\ Bookworm\\ 12 ',
        ]);
      }),
    );

    it(
      'completes params= with field names, continuing a comma list',
      track(async () => {
        assert.deepEqual(await complete(['xe', 'vm-list', 'params', '=', 'name-label,power-']), [
          'name-label,power-state',
        ]);
        const all = await complete(['xe', 'vm-list', 'params', '=']);
        assert.ok(all.includes('all') && all.includes('uuid') && all.includes('name-label'));
      }),
    );

    it(
      'xe itself still answers for the same connection (sanity check of the setup)',
      track(async () => {
        assert.ok(daemon && xe);
        const r = await runProcess(
          ['vm-list', '--minimal', 'params=name-label', 'name-label=completion-vm'],
          cleanEnv(xe.home, {
            XE_EXTRA_ARGS: `server=${daemon.address},port=${daemon.httpPort},nossl=true,password=${TEST_PASSWORD}`,
          }),
          undefined,
          30_000,
        );
        assert.deepEqual([r.code, r.stdout], [0, 'completion-vm\n']);
      }),
    );
  },
);
