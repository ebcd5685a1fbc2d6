// Proves that the real xe binary, run against a real poolstackd, prints exactly xe's transcripts (golden files under test/compat/golden, variable parts replaced by placeholders) for lists, param-lists, param-get/set, --minimal, and its usage, unknown-command, API and authentication errors.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { XapiClient } from '../../src/rpc/client.js';
import { startDaemonProcess, type DaemonHandle } from '../../src/testing/daemon-process.js';
import {
  apiClient,
  checkGolden,
  finish,
  scrub,
  tracker,
  transcript,
  uuidClasses,
  Xe,
  type RunOptions,
} from './xe-helpers.js';

const SUITE_TIMEOUT_MS = 120_000;
/** Fixed, so the host name in transcripts is the same on every run. */
const DAEMON_NAME = 'xe-golden';
const VM_NAME = 'golden-vm';

describe('xe golden transcripts against a real poolstackd', { timeout: SUITE_TIMEOUT_MS }, () => {
  let daemon: DaemonHandle | undefined;
  let xe: Xe | undefined;
  let api: XapiClient | undefined;
  const { failed, track } = tracker();
  /** uuid → placeholder name for the objects the transcripts are about. */
  const named = new Map<string, string>();
  const ids = { vm: '', dom0: '', pool: '', host: '', sr: '' };

  before(async () => {
    daemon = await startDaemonProcess({ name: DAEMON_NAME });
    xe = new Xe(daemon);
    api = await apiClient(daemon);
    ids.vm = (await xe.ok(['vm-install', 'template=Debian Bookworm 12', `new-name-label=${VM_NAME}`])).trim();
    ids.dom0 = (await xe.minimal(['vm-list', 'is-control-domain=true']))[0] ?? '';
    ids.pool = (await xe.minimal(['pool-list']))[0] ?? '';
    ids.host = (await xe.minimal(['host-list']))[0] ?? '';
    ids.sr = (await xe.minimal(['sr-list']))[0] ?? '';
    for (const [k, v] of Object.entries(ids)) {
      assert.match(v, /^[0-9a-f-]{36}$/, `${k} uuid`);
      named.set(v, `${k}-uuid`);
    }
  });

  after(async () => {
    if (api !== undefined) {
      await api.logout().catch(() => undefined);
      api.close();
    }
    xe?.cleanup();
    await finish(daemon, 'xe-golden', failed());
  });

  /** Runs xe, scrubs its transcript and compares it with the golden file `name`. */
  async function golden(name: string, args: string[], opts: RunOptions = {}): Promise<void> {
    assert.ok(xe && api && daemon);
    const r = await xe.run(args, opts);
    const classOf = await uuidClasses(api);
    checkGolden(name, scrub(transcript(r), named, classOf, daemon.dataDir));
  }

  it(
    'vm-list',
    track(() => golden('vm-list', ['vm-list'])),
  );

  it(
    'vm-list params=all',
    track(() => golden('vm-list-params-all', ['vm-list', 'params=all'])),
  );

  it(
    'vm-list --minimal',
    track(() => golden('vm-list-minimal', ['vm-list', '--minimal'])),
  );

  it(
    'pool-param-list',
    track(() => golden('pool-param-list', ['pool-param-list', `uuid=${ids.pool}`])),
  );

  it(
    'host-param-list',
    track(() => golden('host-param-list', ['host-param-list', `uuid=${ids.host}`])),
  );

  it(
    'vm-param-set other-config:k=v, then vm-param-get param-key=k',
    track(async () => {
      await golden('vm-param-set-other-config', ['vm-param-set', `uuid=${ids.vm}`, 'other-config:k=v']);
      await golden('vm-param-get-other-config-key', [
        'vm-param-get',
        `uuid=${ids.vm}`,
        'param-name=other-config',
        'param-key=k',
      ]);
    }),
  );

  it(
    'sr-list',
    track(() => golden('sr-list', ['sr-list'])),
  );

  it(
    'a missing required parameter',
    track(() => golden('missing-parameter', ['vm-param-get', 'uuid=x'])),
  );

  it(
    'an unknown command, with and without a likely intended one',
    track(async () => {
      await golden('unknown-command', ['frobnicate']);
      await golden('unknown-command-suggestion', ['vm-strat']);
    }),
  );

  it(
    'an API error with parameters: starting a running VM',
    track(async () => {
      assert.ok(xe);
      await xe.ok(['vm-start', `uuid=${ids.vm}`]);
      await golden('vm-start-running', ['vm-start', `uuid=${ids.vm}`]);
    }),
  );

  it(
    'a wrong password',
    track(() => golden('wrong-password', ['vm-list'], { password: 'not-the-password' })),
  );
});
