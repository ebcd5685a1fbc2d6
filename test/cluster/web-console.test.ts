// Proves the web console in Debian's Chromium (headless, driven by playwright-core) against a real
// three-host pool: a wrong password is refused beside the field, the pool tree shows the three
// hosts and the master, a VM started from its page turns Running without a reload, and a killed
// member turns dead on its own.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { TEST_PASSWORD } from '../../src/testing/daemon-process.js';
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

async function shot(page: Page, dir: string, name: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
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
      const shots = join(pool.dir, 'screenshots');
      const ctx = await browser(pool.dir);
      try {
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

        // A member killed: the tree says so by itself.
        await b.handle.kill();
        await note(page, b.name).filter({ hasText: 'dead' }).waitFor({ timeout: 60_000 });
        await shot(page, shots, 'member-dead');
      } finally {
        await ctx.close();
        m.close();
      }
    }),
  );
});
