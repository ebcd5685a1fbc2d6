// Proves the web console in Debian's Chromium (headless, driven by playwright-core) against a real
// three-host pool: a member's HTTPS port sends the browser to the master, a wrong password is refused beside the field, the pool tree shows the three
// hosts and the master, a VM started from its page turns Running without a reload, a killed member
// turns dead on its own, and the guide's "member machine failed" procedure is completed from the
// recovery view: a wrong typed confirmation changes nothing, the right one resets the VM, and it
// starts on another host; and when the master dies, a member's own console takes over as master
// (typed confirmation) and opens the full console. Screenshots of each page are saved with the run's data (and into
// docs/images/console with UPDATE_SCREENSHOTS=1).
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { XapiClient } from '../../src/rpc/client.js';
import { TEST_PASSWORD, waitFor } from '../../src/testing/daemon-process.js';
import { withPool, type PoolHost } from '../../src/testing/pool.js';
import { createSharedSr, makeVmWithDisk } from '../../src/testing/records.js';

const CHROMIUM = '/usr/bin/chromium';
/** The longest any one thing may take to show in the page. */
const SHOW_MS = 20_000;

async function browser(dir: string): Promise<BrowserContext> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  const profile = mkdtempSync(join(dir, 'chromium-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    // As root on a closed network Chromium needs these, or it stalls.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 800 },
  });
}

/** Where docs/console.md's pictures live; UPDATE_SCREENSHOTS=1 refreshes them from this run. */
const DOC_SHOTS = fileURLToPath(new URL('../../../docs/images/console', import.meta.url));

async function shot(page: Page, dir: string, name: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    mkdirSync(DOC_SHOTS, { recursive: true });
    copyFileSync(join(dir, `${name}.png`), join(DOC_SHOTS, `${name}.png`));
  }
}

/** The state note beside a tree node. */
const note = (page: Page, label: string) => page.locator(`.tree button.node:text-is("${label}") + .state`);

describe('web console in a browser', { timeout: 240_000 }, () => {
  it(
    'logs in, shows the pool live, starts a VM and sees a member die',
    withPool('web-console', 3, async (pool) => {
      const [a, b] = pool.hosts as [PoolHost, PoolHost, PoolHost];
      const m = await pool.client(a.address);
      const hostA = ((await m.callSession('host.get_by_name_label', a.name)) as string[])[0] ?? '';
      const sr = await createSharedSr(m, hostA, join(pool.dir, 'shared-sr'));
      const vm = await makeVmWithDisk(m, 'web-vm', sr);
      // A VM on the member that will fail.
      const hostB = ((await m.callSession('host.get_by_name_label', b.name)) as string[])[0] ?? '';
      const lost = await makeVmWithDisk(m, 'lost-vm', sr);
      await m.callSession('VM.start_on', lost.vm, hostB, false, false);
      const shots = join(pool.dir, 'screenshots');
      const ctx = await browser(pool.dir);
      try {
        // A member's HTTPS port sends a browser to the master (the pool's hosts share one port).
        const redirect = await new Promise<string | undefined>((resolve, reject) => {
          const req = https.get(
            `https://${b.address}:${pool.port}/`,
            { rejectUnauthorized: false },
            (res) => {
              res.resume();
              resolve(res.statusCode === 302 ? res.headers.location : `HTTP ${res.statusCode}`);
            },
          );
          req.on('error', reject);
        });
        assert.equal(redirect, `https://${a.address}:${pool.port}/`);
        const page = ctx.pages()[0] ?? (await ctx.newPage());
        page.setDefaultTimeout(SHOW_MS);
        await page.goto(a.handle.httpUrl + '/');
        await shot(page, shots, 'login');

        // A wrong password: the XenAPI error beside the field, still on the login page.
        await page.fill('input[name=password]', 'wrong');
        await page.click('button[type=submit]');
        await page.getByRole('alert').filter({ hasText: 'SESSION_AUTHENTICATION_FAILED' }).waitFor();

        await page.fill('input[name=password]', TEST_PASSWORD);
        await page.click('button[type=submit]');
        for (const h of pool.hosts) await page.locator(`button.node:text-is("${h.name}")`).waitFor();
        await note(page, a.name).filter({ hasText: 'master' }).waitFor();
        await shot(page, shots, 'pool');

        // Start the VM from its page: its state follows without a reload.
        await page.click('button.node:text-is("web-vm")');
        await page.getByRole('button', { name: 'Start' }).click();
        await page.locator('td[data-field=power_state]').filter({ hasText: 'Running' }).waitFor();
        await note(page, 'web-vm').filter({ hasText: 'Running' }).waitFor();
        assert.equal(await m.callSession('VM.get_power_state', vm.vm), 'Running');
        await shot(page, shots, 'vm');

        // The pool's page: a form's bad input is refused beside its field, and nothing changes.
        await page.click(
          `button.node[data-ref="${await m.callSession('pool.get_all').then((p) => (p as string[])[0])}"]`,
        );
        const install = page.getByRole('form', { name: 'install a VM' });
        await install.getByRole('button', { name: 'Install' }).click();
        await install.getByRole('alert').filter({ hasText: 'Give the new VM a name' }).waitFor();
        const before = JSON.stringify([
          await m.callSession('pool.get_all_records'),
          Object.keys((await m.callSession('VM.get_all_records')) as object).sort(),
        ]);
        const restore = page.getByRole('region', { name: 'restore' });
        await restore.locator('input[name=dump]').setInputFiles({
          name: 'bad.dump',
          mimeType: 'application/octet-stream',
          buffer: Buffer.from('not a dump\n'),
        });
        await restore.getByRole('button', { name: 'Check (dry run)' }).click();
        await restore.getByRole('alert').filter({ hasText: 'RESTORE_INVALID_BACKUP' }).waitFor();
        const after = JSON.stringify([
          await m.callSession('pool.get_all_records'),
          Object.keys((await m.callSession('VM.get_all_records')) as object).sort(),
        ]);
        assert.equal(after, before, 'the refused restore changed something');
        const vmCount = ((await m.callSession('VM.get_all')) as string[]).length;
        // Installing from a template: the task's progress, then the VM in the tree.
        await install.locator('input[name=name]').fill('installed-vm');
        await install.getByRole('button', { name: 'Install' }).click();
        await note(page, 'installed-vm').filter({ hasText: 'Halted' }).waitFor({ timeout: 60_000 });
        assert.equal(((await m.callSession('VM.get_all')) as string[]).length, vmCount + 1);
        await shot(page, shots, 'pool-tools');

        // A member killed: the tree says so by itself.
        await b.handle.kill();
        await note(page, b.name).filter({ hasText: 'dead' }).waitFor({ timeout: 60_000 });
        await shot(page, shots, 'member-dead');

        // The recovery view: the dead member and the VM it still holds, as the guide warns.
        await page.getByRole('button', { name: /^Recovery/ }).click();
        const deadHost = page.getByRole('article', { name: `dead host ${b.name}` });
        const row = deadHost.locator('li[data-vm="lost-vm"]');
        await row.waitFor();
        assert.equal(await m.callSession('VM.get_power_state', lost.vm), 'Running');
        await shot(page, shots, 'recovery');
        // A wrong name typed: refused beside the field, nothing changed.
        await row.getByRole('button', { name: 'Reset power state…' }).click();
        await row.locator('input[name=confirm]').fill('lost-vm?');
        await row.getByRole('button', { name: 'Reset power state', exact: true }).click();
        await row.getByRole('alert').filter({ hasText: 'Type lost-vm exactly' }).waitFor();
        assert.equal(await m.callSession('VM.get_power_state', lost.vm), 'Running');
        // The right name: the VM is reset, then started from the list on a live host.
        await row.locator('input[name=confirm]').fill('lost-vm');
        await row.getByRole('button', { name: 'Reset power state', exact: true }).click();
        const halted = page
          .getByRole('article', { name: 'start elsewhere' })
          .locator('li[data-vm="lost-vm"]');
        await halted.waitFor();
        assert.equal(await m.callSession('VM.get_power_state', lost.vm), 'Halted');
        // The start waits for the dead host's disk lease to expire (the test pools' 10 s).
        await halted.getByRole('button', { name: 'Start' }).click();
        await note(page, 'lost-vm').filter({ hasText: 'Running' }).waitFor({ timeout: 60_000 });
        assert.notEqual(await m.callSession('VM.get_resident_on', lost.vm), hostB);
        await shot(page, shots, 'recovered');
      } finally {
        await ctx.close();
        m.close();
      }
    }),
  );

  it(
    "takes over from a dead master on a member's own console",
    withPool('web-emergency', 3, async (pool) => {
      const [a, b] = pool.hosts as [PoolHost, PoolHost, PoolHost];
      await a.handle.kill();
      // Wait until the member has noticed (the page reads it once, when it opens).
      const local = new XapiClient(b.handle.httpUrl);
      const ref = (await local.call('session.slave_local_login_with_password', [
        'root',
        TEST_PASSWORD,
      ])) as string;
      await waitFor('the member in emergency mode', 60_000, async () =>
        (await local.call('host.is_in_emergency_mode', [ref])) === true ? true : undefined,
      );
      const shots = join(pool.dir, 'screenshots');
      const ctx = await browser(pool.dir);
      try {
        const page = ctx.pages()[0] ?? (await ctx.newPage());
        page.setDefaultTimeout(SHOW_MS);
        await page.goto(b.handle.httpUrl + '/');
        await page.fill('input[name=password]', TEST_PASSWORD);
        await page.click('button[type=submit]');
        const takeOver = page.getByRole('article', { name: 'take over' });
        await takeOver.waitFor();
        await shot(page, shots, 'emergency');
        await takeOver.getByRole('button', { name: 'Take over as master…' }).click();
        await takeOver.locator('input[name=confirm]').fill('not the master');
        await takeOver.getByRole('button', { name: 'Take over as master', exact: true }).click();
        await takeOver
          .getByRole('alert')
          .filter({ hasText: `Type ${a.address} exactly` })
          .waitFor();
        await takeOver.locator('input[name=confirm]').fill(a.address);
        await takeOver.getByRole('button', { name: 'Take over as master', exact: true }).click();
        // The full console opens on this host, now master; the old master shows dead.
        await note(page, b.name).filter({ hasText: 'master' }).waitFor({ timeout: 60_000 });
        await note(page, a.name).filter({ hasText: 'dead' }).waitFor({ timeout: 60_000 });
        const m = await pool.client(b.address);
        const [p] = (await m.callSession('pool.get_all')) as string[];
        const master = await m.callSession('pool.get_master', p);
        assert.equal(await m.callSession('host.get_name_label', master), b.name);
        m.close();
      } finally {
        await ctx.close();
        local.close();
      }
    }),
  );
});
