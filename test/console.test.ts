/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import Fastify from 'fastify';
import { CONSOLE_DIST, registerConsole } from '../src/http/console.ts';
import { setAccountInvoicing } from '../src/domain/accounts.ts';
import { createOauthClient } from '../src/domain/oauth.ts';
import { call, DIALECTS, listeningApp, seedMsp, type MspFixture, type Response } from './helpers/app.ts';
import { ROOT } from './helpers/cli.ts';

/**
 * The web console in a real browser: Debian's chromium driven by playwright-core, against a listening Steward on
 * each dialect. Every check reads the result back through the public API as well as off the page.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const noBrowser = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is absent (apt-get install chromium), so the browser tests are skipped`;
if (noBrowser) console.log(`# ${noBrowser}`);
const SCREENSHOTS = join(ROOT, 'test-results');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let browser: Browser;
before(async () => {
  if (noBrowser) return;
  // npm test builds the console first (pretest); a single file run may not have.
  if (!existsSync(join(CONSOLE_DIST, 'index.html'))) execFileSync('npm', ['run', 'build:console'], { cwd: ROOT, stdio: 'ignore' });
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  await browser?.close();
});

interface Session {
  page: Page;
  baseUrl: string;
  msp: MspFixture;
  /** The API as a script sees it, with the MSP's token. */
  api: (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown) => Promise<Response>;
  /** Console errors, failed page loads and uncaught exceptions seen so far. */
  problems: string[];
  store: Awaited<ReturnType<typeof listeningApp>>['db']['store'];
}

async function open(t: TestContext, dialect: 'sqlite' | 'postgres', width = 1280): Promise<Session> {
  const { app, db, baseUrl } = await listeningApp(t, dialect);
  const msp = await seedMsp(db.store);
  const context = await browser.newContext({ viewport: { width, height: 900 }, bypassCSP: false });
  const page = await context.newPage();
  t.after(async () => {
    // What the page showed when the test ended, to see why one failed.
    await page.screenshot({ path: join(SCREENSHOTS, `last-${t.name.slice(0, 40).replace(/\W+/g, '-')}-${dialect}.png`), fullPage: true }).catch(() => {});
    await context.close();
  });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  const api: Session['api'] = (method, path, body) => call(app, method, path, { token: msp.token, body });
  return { page, baseUrl, msp, api, problems, store: db.store };
}

async function signInWithToken(s: Session): Promise<void> {
  await s.page.goto(`${s.baseUrl}/console/`);
  await s.page.getByLabel('API token', { exact: true }).fill(s.msp.token);
  await s.page.getByRole('button', { name: 'Sign in' }).first().click();
  await s.page.getByRole('heading', { level: 1, name: 'Managed accounts' }).waitFor();
  // The list has loaded (table or empty state), so a test that navigates next does not abort its request.
  await s.page.locator('main table, main .empty').first().waitFor();
}

/** axe-core's WCAG 2 A/AA rules on the page as it is now; returns each violation with the elements it found. */
async function accessibilityViolations(page: Page): Promise<string[]> {
  // Injected through the DevTools protocol's evaluate, which the page's CSP (script-src 'self') does not govern.
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: Array<{ id: string; help: string; nodes: Array<{ target: string[] }> }> }> } }).axe;
    return axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
  });
  return result.violations.map((v) => `${v.id} (${v.help}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** Every audit record of the session's MSP, oldest first, as the API lists them. */
async function listAllAudit(s: Session): Promise<Array<{ object_title: string }>> {
  return (await s.api('GET', '/v2/audit_logs?limit=5000')).body.audit_logs;
}

/** Follows a link of the main navigation. */
async function nav(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
}

/** Waits (5 s at most) until the element has the keyboard focus; fails if it never does. */
async function hasFocus(page: Page, locator: Locator): Promise<void> {
  await page.waitForFunction((element) => element === document.activeElement, await locator.elementHandle(), { timeout: 5_000 });
}

/** The rule titles of one execution stage, top to bottom, as the form shows them. */
async function stageTitles(page: Page, stage: number): Promise<string[]> {
  return page.locator(`section.stage[data-stage="${stage}"] .rule-title`).allInnerTexts();
}

for (const dialect of DIALECTS) {
  describe(`web console [${dialect.name}]`, { skip: noBrowser ?? dialect.skip }, () => {
    test('sign in, create an account with two rules from different stages and an integration, edit, reorder, audit, delete', async (t) => {
      const s = await open(t, dialect.name);
      const { page } = s;
      const charge = await s.api('POST', '/v2/billing_rules', { type: 'charge', title: 'Monthly fee', service: 'MSP', amount: 300, start_date: '2026-01-01' });
      assert.equal(charge.status, 201);
      const [r1, r2] = s.msp.rules as [string, string];
      const [integration] = s.msp.integrations as [string];

      await signInWithToken(s);
      assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
      assert.equal(await page.evaluate(() => Object.values(sessionStorage).join()), s.msp.token, 'the token lives in sessionStorage');
      assert.ok(!(await page.content()).includes(s.msp.token), 'the token is never rendered');
      await page.getByRole('heading', { name: 'No managed accounts yet' }).waitFor();
      assert.match(await page.locator('.empty').innerText(), /Create the first one/);

      // Create: name, email, domain, one integration, the charge (stage 2) and R1 (stage 3).
      await page.getByRole('link', { name: 'Create managed account' }).click();
      await page.getByLabel('Name').fill('Globex Ltd');
      await page.getByLabel('Contact email').fill('ops@globex.example');
      await page.getByLabel('Email domain (for SSO)').fill('globex.example');
      await page.getByRole('checkbox', { name: new RegExp(integration) }).check();
      const addRule = async (title: string) => {
        await page.getByLabel('Add a billing rule').selectOption({ label: (await page.locator('option', { hasText: title }).innerText()).trim() });
        await page.getByRole('button', { name: 'Add rule' }).press('Enter');
        await hasFocus(page, page.getByRole('button', { name: `Move ${title}`, exact: true }));
      };
      await addRule('Monthly fee');
      // Added then removed by keyboard: focus goes back to the rule choice, not to the page.
      await addRule('R2');
      await page.getByRole('button', { name: 'Remove R2', exact: true }).press('Enter');
      await hasFocus(page, page.getByLabel('Add a billing rule'));
      assert.deepEqual(await stageTitles(page, 3), []);
      await addRule('R1');
      assert.deepEqual(await stageTitles(page, 2), ['Monthly fee']);
      assert.deepEqual(await stageTitles(page, 3), ['R1']);
      assert.deepEqual(await accessibilityViolations(page), [], 'create form');
      await page.getByRole('button', { name: 'Create managed account' }).click();
      await page.getByRole('heading', { level: 1, name: 'Edit Globex Ltd' }).waitFor();
      const token = new URL(page.url()).pathname.split('/').pop() as string;
      const created = await s.api('GET', `/v2/managed_accounts/${token}`);
      assert.equal(created.status, 200);
      assert.equal(created.body.name, 'Globex Ltd');
      assert.equal(created.body.contact_email, 'ops@globex.example');
      assert.equal(created.body.email_domain, 'globex.example');
      assert.deepEqual(created.body.access_credential_tokens, [integration]);
      assert.deepEqual(created.body.billing_rule_tokens, [charge.body.token, r1]);

      // Two more customers made by a script, so the table has company.
      for (const [name, email] of [['Initech', 'it@initech.example'], ['Umbrella Health', 'cloud@umbrella.example']]) {
        assert.equal((await s.api('POST', '/v2/managed_accounts', { name, contact_email: email, billing_rule_tokens: [r1] })).status, 201);
      }
      // The table shows it with its counts.
      await nav(page, 'Managed accounts');
      const row = page.getByRole('row', { name: /Globex Ltd/ });
      await row.waitFor();
      assert.deepEqual(await row.getByRole('cell').allInnerTexts(), ['Globex Ltd', 'ops@globex.example', 'globex.example', '2', '1']);
      assert.deepEqual(await accessibilityViolations(page), [], 'accounts table');
      await page.screenshot({ path: join(SCREENSHOTS, `console-accounts-${dialect.name}.png`), fullPage: true });

      // Edit: a new name, R2 added, then R2 moved above R1 with the keyboard.
      await row.getByRole('link', { name: 'Globex Ltd' }).click();
      await page.getByRole('heading', { level: 1, name: 'Edit Globex Ltd' }).waitFor();
      await page.getByLabel('Name').fill('Globex Holdings');
      await addRule('R2');
      assert.deepEqual(await stageTitles(page, 3), ['R1', 'R2']);
      await page.getByRole('button', { name: 'Move R2', exact: true }).focus();
      await page.keyboard.press('Space');
      await page.waitForTimeout(150);
      await page.keyboard.press('ArrowUp');
      await page.waitForTimeout(300);
      await page.keyboard.press('Space');
      await page.waitForTimeout(300);
      assert.deepEqual(await stageTitles(page, 3), ['R2', 'R1'], 'keyboard reorder');
      assert.deepEqual(await accessibilityViolations(page), [], 'edit form');
      await page.screenshot({ path: join(SCREENSHOTS, `console-edit-${dialect.name}.png`), fullPage: true });
      await page.getByRole('button', { name: 'Save changes' }).press('Enter');
      await page.getByText('Saved the name, billing rules.').waitFor();
      await hasFocus(page, page.getByRole('button', { name: 'Save changes' }));
      let stored = (await s.api('GET', `/v2/managed_accounts/${token}`)).body;
      assert.equal(stored.name, 'Globex Holdings');
      assert.deepEqual(stored.billing_rule_tokens, [charge.body.token, r2, r1]);

      // Then R1 dragged back above R2 with the mouse.
      await page.locator('section.stage[data-stage="3"]').scrollIntoViewIfNeeded();
      const handle = await page.getByRole('button', { name: 'Move R1', exact: true }).boundingBox();
      const target = await page.getByRole('button', { name: 'Move R2', exact: true }).boundingBox();
      assert.ok(handle && target);
      await page.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
      await page.mouse.down();
      for (let step = 1; step <= 10; step++) {
        await page.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2 + ((target.y - handle.y - 8) * step) / 10);
        await page.waitForTimeout(20);
      }
      await page.mouse.up();
      await page.waitForTimeout(300);
      assert.deepEqual(await stageTitles(page, 3), ['R1', 'R2'], 'drag reorder');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByText('Saved the billing rules.').waitFor();
      stored = (await s.api('GET', `/v2/managed_accounts/${token}`)).body;
      assert.deepEqual(stored.billing_rule_tokens, [charge.body.token, r1, r2]);

      // The audit log, newest first: the name change, old → new.
      await nav(page, 'Audit log');
      await page.getByLabel('Object', { exact: true }).selectOption('managed_account');
      await page.getByLabel('Object token').fill(token);
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(/object_type=managed_account/);
      // react-router renders a navigation as a transition: the unfiltered rows can stay on screen a moment after the
      // URL changed. Wait for the filtered ones: three rows, all of this account.
      await page.waitForFunction((t) => {
        const trs = Array.from(document.querySelectorAll('tbody tr'));
        return trs.length === 3 && trs.every((tr) => tr.textContent?.includes(t));
      }, token);
      const rows = page.locator('tbody tr');
      const logs = (await s.api('GET', `/v2/audit_logs?object_type=managed_account&object_token=${token}`)).body.audit_logs;
      assert.equal(logs.length, 3, 'created, then two updates');
      assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-event'))), ['record_updated', 'record_updated', 'record_created']);
      const rename = rows.nth(1);
      assert.match(await rename.innerText(), /name: Globex Ltd → Globex Holdings/);
      assert.match(await rename.innerText(), new RegExp(`billing_rule_tokens: \\["${charge.body.token}","${r1}"\\] → \\["${charge.body.token}","${r2}","${r1}"\\]`));
      assert.match(await rows.nth(0).innerText(), new RegExp(`billing_rule_tokens: \\["${charge.body.token}","${r2}","${r1}"\\] → \\["${charge.body.token}","${r1}","${r2}"\\]`));
      assert.deepEqual(await accessibilityViolations(page), [], 'audit log');
      await page.screenshot({ path: join(SCREENSHOTS, `console-audit-log-${dialect.name}.png`), fullPage: true });

      // Delete, confirming in a dialog that names the account.
      await page.goto(`${s.baseUrl}/console/accounts/${token}`);
      await page.getByRole('button', { name: 'Delete managed account' }).click();
      const dialog = page.getByRole('dialog', { name: 'Delete “Globex Holdings”?' });
      await dialog.waitFor();
      assert.match(await dialog.innerText(), /Globex Holdings \(ops@globex\.example\) will be deleted/);
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      assert.equal((await s.api('GET', `/v2/managed_accounts/${token}`)).status, 200, 'cancel deletes nothing');
      await page.getByRole('button', { name: 'Delete managed account' }).click();
      await dialog.getByRole('button', { name: 'Delete Globex Holdings' }).click();
      await page.getByText('Managed account “Globex Holdings” deleted.').waitFor();
      assert.equal((await s.api('GET', `/v2/managed_accounts/${token}`)).status, 404);
      await page.getByRole('row', { name: /Initech/ }).waitFor();
      assert.deepEqual(await page.locator('tbody td:first-child').allInnerTexts(), ['Initech', 'Umbrella Health']);

      // Signing out forgets the token.
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { level: 1, name: 'Sign in to the Steward console' }).waitFor();
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);
      assert.deepEqual(s.problems, [], 'no console errors');
    });

    test('the accounts table pages through links and the filter searches every page', async (t) => {
      const s = await open(t, dialect.name);
      const { page } = s;
      for (let i = 1; i <= 27; i++) {
        const res = await s.api('POST', '/v2/managed_accounts', { name: `Customer ${String(i).padStart(2, '0')}`, contact_email: `c${i}@customers.example` });
        assert.equal(res.status, 201);
      }
      await signInWithToken(s);
      const names = () => page.locator('tbody td:first-child').allInnerTexts();
      await page.getByText('Page 1 of 2').waitFor();
      const first = await names();
      assert.equal(first.length, 25);
      assert.equal(first[0], 'Customer 01');
      await page.getByRole('button', { name: 'Next page' }).click();
      await page.getByText('Page 2 of 2').waitFor();
      assert.deepEqual(await names(), ['Customer 26', 'Customer 27']);
      const viaLinks = (await s.api('GET', '/v2/managed_accounts?limit=25&page=2')).body.managed_accounts.map((a: { name: string }) => a.name);
      assert.deepEqual(viaLinks, ['Customer 26', 'Customer 27'], 'the same page the API serves');
      assert.equal(await page.getByRole('button', { name: 'Next page' }).isDisabled(), true);

      await page.getByLabel('Filter by name, contact email or email domain').fill('C27@CUSTOMERS');
      await page.getByRole('button', { name: 'Filter', exact: true }).click();
      await page.getByText('1 of 27 managed accounts match “C27@CUSTOMERS”.').waitFor();
      assert.deepEqual(await names(), ['Customer 27']);
      await page.getByLabel('Filter by name, contact email or email domain').fill('Customer 0');
      await page.getByRole('button', { name: 'Filter', exact: true }).click();
      await page.getByText('9 of 27 managed accounts match “Customer 0”.').waitFor();
      await page.getByLabel('Filter by name, contact email or email domain').fill('nobody');
      await page.getByRole('button', { name: 'Filter', exact: true }).click();
      await page.getByText('No managed account matches “nobody”.').waitFor();
      await page.getByRole('button', { name: 'Clear' }).click();
      await page.getByText('Page 1 of 2').waitFor();

      // The audit log's first page is a full page of the newest records, even when the API's last page is short.
      await nav(page, 'Audit log');
      // The audit table first: the accounts page's own "Page 1 of 2" may still be on screen right after the click.
      await page.getByRole('region', { name: 'Audit records, newest first' }).waitFor();
      await page.getByText(/^Page 1 of \d+$/).waitFor();
      const all = await listAllAudit(s);
      const titles = () => page.locator('tbody tr td[data-label="What"] a, tbody tr td[data-label="What"] strong').allInnerTexts();
      assert.ok(all.length > 25 && all.length % 25 !== 0, `${all.length} records`);
      assert.deepEqual(await titles(), all.slice(-25).reverse().map((r) => r.object_title));
      await page.getByRole('button', { name: 'Older' }).click();
      await page.getByText('Page 2 of 2').waitFor();
      assert.deepEqual(await titles(), all.slice(0, all.length - 25).reverse().map((r) => r.object_title));
      assert.deepEqual(s.problems, []);
    });

    test('SSO and MSP invoicing sections: API errors next to their fields, saved values read back, removal confirmed', async (t) => {
      const s = await open(t, dialect.name);
      const { page } = s;
      await setAccountInvoicing(s.store.db, s.msp.accountToken, true);
      const profile = await s.api('POST', '/v2/billing_profiles', { nickname: 'EU entity' });
      assert.equal(profile.status, 201, JSON.stringify(profile.body));
      const account = await s.api('POST', '/v2/managed_accounts', { name: 'Soylent', contact_email: 'it@soylent.example', email_domain: 'soylent.example' });
      assert.equal(account.status, 201);
      const token = account.body.token;
      await signInWithToken(s);
      await page.goto(`${s.baseUrl}/console/accounts/${token}`);
      await page.getByRole('heading', { level: 1, name: 'Edit Soylent' }).waitFor();

      // Invoicing: a bad country code is refused next to its field and changes nothing; then saved.
      const invoicing = page.getByRole('form', { name: 'MSP invoicing' });
      await invoicing.getByLabel('Billing profile').selectOption({ label: 'EU entity' });
      await invoicing.getByLabel('Payment terms (days)').fill('30');
      await invoicing.getByLabel('Company name').fill('Soylent Ltd');
      await invoicing.getByLabel(/^Country code/).fill('gbr');
      await invoicing.getByRole('button', { name: 'Save invoicing' }).click();
      const countryError = invoicing.locator('[data-field="billing_information_attributes.country_code"]');
      await countryError.waitFor();
      const refused = await s.api('PUT', `/v2/managed_accounts/${token}`, { billing_information_attributes: { country_code: 'gbr' } });
      assert.deepEqual(await countryError.locator('li').allInnerTexts(), refused.body.errors);
      assert.equal((await s.api('GET', `/v2/managed_accounts/${token}`)).body.payment_terms_days, 10, 'the refused save changed nothing');
      await invoicing.getByLabel(/^Country code/).fill('GB');
      await invoicing.getByRole('button', { name: 'Save invoicing' }).click();
      await invoicing.getByText('Invoicing data saved.').waitFor();
      const invoiced = (await s.api('GET', `/v2/managed_accounts/${token}`)).body;
      assert.equal(invoiced.msp_billing_profile_token, profile.body.token);
      assert.equal(invoiced.payment_terms_days, 30);
      assert.equal(invoiced.billing_information_attributes.company_name, 'Soylent Ltd');
      assert.equal(invoiced.billing_information_attributes.country_code, 'GB');

      // Someone else changes the terms meanwhile; emptying the company name here clears it and leaves their terms be.
      assert.equal((await s.api('PUT', `/v2/managed_accounts/${token}`, { payment_terms_days: 45 })).status, 200);
      await invoicing.getByLabel('Company name').fill('');
      await invoicing.getByLabel('Payment terms (days)').fill('0x1e');
      await invoicing.getByRole('button', { name: 'Save invoicing' }).click();
      await invoicing.locator('[data-field="payment_terms_days"]').waitFor();
      assert.equal(await invoicing.getByLabel('Payment terms (days)').evaluate((e) => e === document.activeElement), true, 'focus goes to the field to fix');
      await invoicing.getByLabel('Payment terms (days)').fill('30');
      await invoicing.getByRole('button', { name: 'Save invoicing' }).click();
      await invoicing.getByText('Invoicing data saved.').waitFor();
      const cleared = (await s.api('GET', `/v2/managed_accounts/${token}`)).body;
      assert.equal(cleared.billing_information_attributes.company_name, '', 'an emptied field is sent as "" and cleared, not kept');
      assert.equal(cleared.payment_terms_days, 45, "an unchanged field is not sent, so another client's change survives");

      // SSO: http:// is refused with the API's message under the URL; https:// creates the connection.
      const sso = page.getByRole('form', { name: 'SAML SSO connection' });
      await sso.getByLabel('SAML metadata URL').fill('http://idp.soylent.example/metadata');
      await sso.getByRole('button', { name: 'Create SSO connection' }).click();
      const urlError = sso.locator('[data-field="saml_metadata_url"]');
      await urlError.waitFor();
      assert.match(await urlError.innerText(), /^saml_metadata_url must use https:\/\//);
      await sso.getByLabel('SAML metadata URL').fill('https://idp.soylent.example/metadata');
      await sso.getByLabel('Additional domains').fill('soylent-foods.example, green.example');
      await sso.getByRole('button', { name: 'Create SSO connection' }).click();
      await sso.getByText('SSO connection created.').waitFor();
      const recorded = (await s.api('GET', `/v2/audit_logs?object_type=sso_connection&object_token=${token}`)).body.audit_logs;
      assert.deepEqual(recorded.map((r: { event: string }) => r.event), ['record_created']);
      assert.deepEqual(recorded[0].changed_values.additional_domains, [null, ['soylent-foods.example', 'green.example']]);

      // A fresh load shows the stored connection, ready to update or remove.
      await page.reload();
      await sso.getByRole('button', { name: 'Update SSO connection' }).waitFor();
      assert.equal(await sso.getByLabel('SAML metadata URL').inputValue(), 'https://idp.soylent.example/metadata');
      assert.equal(await sso.getByLabel('Additional domains').inputValue(), 'soylent-foods.example, green.example');
      await sso.getByRole('button', { name: 'Remove SSO connection' }).click();
      const dialog = page.getByRole('dialog', { name: 'Remove the SSO connection of “Soylent”?' });
      await dialog.getByRole('button', { name: 'Remove SSO connection' }).click();
      await sso.getByText('SSO connection removed.').waitFor();
      await sso.getByRole('button', { name: 'Create SSO connection' }).waitFor();
      const events = (await s.api('GET', `/v2/audit_logs?object_type=sso_connection&object_token=${token}`)).body.audit_logs.map((r: { event: string }) => r.event);
      assert.deepEqual(events, ['record_created', 'record_destroyed']);
      assert.deepEqual(await accessibilityViolations(page), []);
      assert.deepEqual(s.problems.filter((p) => !p.includes('400 (Bad Request)')), []);
    });

    test("an invalid email shows the API's own message next to the field, and creates nothing", async (t) => {
      const s = await open(t, dialect.name);
      const { page } = s;
      await signInWithToken(s);
      await page.getByRole('link', { name: 'Create managed account' }).click();
      await page.getByLabel('Name').fill('Initech');
      await page.getByLabel('Contact email').fill('not-an-email');
      await page.getByLabel('Email domain (for SSO)').fill('https://initech.example/');
      await page.getByRole('button', { name: 'Create managed account' }).click();
      const emailError = page.locator('[data-field="contact_email"]');
      await emailError.waitFor();
      const direct = await s.api('POST', '/v2/managed_accounts', { name: 'Initech', contact_email: 'not-an-email', email_domain: 'https://initech.example/' });
      assert.equal(direct.status, 400);
      const expected = (field: string) => direct.body.errors.filter((m: string) => m.startsWith(field));
      assert.deepEqual(await emailError.locator('li').allInnerTexts(), expected('contact_email'));
      assert.deepEqual(await page.locator('[data-field="email_domain"] li').allInnerTexts(), expected('email_domain'));
      // Next to the field: tied to the input for assistive technology, and the input is marked invalid.
      const input = page.getByLabel('Contact email');
      assert.equal(await input.getAttribute('aria-invalid'), 'true');
      assert.ok((await input.getAttribute('aria-describedby'))?.includes((await emailError.getAttribute('id')) as string));
      assert.deepEqual((await s.api('GET', '/v2/managed_accounts')).body.managed_accounts, [], 'nothing created');
      assert.deepEqual(await accessibilityViolations(page), []);
      assert.deepEqual(s.problems.filter((p) => !p.includes('400 (Bad Request)')), [], 'no console errors besides the refused request');
    });

    test('OAuth client sign-in, billing rules per type, integrations and billing profiles, at 390 px wide', async (t) => {
      const s = await open(t, dialect.name, 390);
      const { page } = s;
      const client = await createOauthClient(s.store.db, { accountToken: s.msp.accountToken, scopes: 'read,write', description: 'console test' });
      await page.goto(`${s.baseUrl}/console/billing-rules`);
      await page.getByLabel('API token', { exact: true }).fill('vntg_tkn_0000000000000000000000000000000000000000');
      await page.getByRole('button', { name: 'Sign in' }).first().click();
      await page.getByText('Could not sign in').waitFor();
      assert.equal(await page.getByText('You were signed out').count(), 0, 'a wrong token at sign-in is not a sign-out');
      await page.getByLabel('Client ID').fill(client.client_id);
      await page.getByLabel('Client secret').fill('stw_secret_wrong');
      await page.getByRole('button', { name: 'Sign in' }).nth(1).click();
      await page.getByText(/client authentication failed/).waitFor();
      await page.getByLabel('Client secret').fill(client.client_secret);
      await page.getByRole('button', { name: 'Sign in' }).nth(1).click();
      await page.getByRole('heading', { level: 1, name: 'Billing rules' }).waitFor();
      const kept = await page.evaluate(() => Object.values(sessionStorage).join());
      assert.match(kept, /^vntg_tkn_/, 'an access token from /oauth/token is kept');
      assert.ok(!(await page.content()).includes(client.client_secret), 'the client secret is not rendered');

      // Create a custom rule: only its own fields are offered; the stage comes from the API.
      await page.getByRole('link', { name: 'Create billing rule' }).click();
      await page.getByRole('radio', { name: /Custom SQL/ }).check();
      assert.equal(await page.getByLabel('Percentage of cost shown').count(), 0, 'no adjustment fields on a custom rule');
      await page.getByLabel('Title').fill('Tax out');
      await page.getByLabel('SQL statement').fill('DELETE FROM costs WHERE service = 1 +');
      await page.getByRole('button', { name: 'Create billing rule' }).click();
      await page.locator('[data-field="sql_query"]').waitFor();
      await page.getByLabel('SQL statement').fill("DELETE FROM costs WHERE service = 'Tax'");
      await page.getByRole('button', { name: 'Create billing rule' }).click();
      await page.getByText('Billing rule “Tax out” created.').waitFor();
      assert.match(await page.locator('.meta').innerText(), /runs in stage 3 \(COST transforms\)/);
      const listed = (await s.api('GET', '/v2/billing_rules')).body.billing_rules;
      const made = listed.find((r: { title: string }) => r.title === 'Tax out');
      assert.equal(made.sql_query, "DELETE FROM costs WHERE service = 'Tax'");
      assert.equal(made.charge_type, null);

      // An adjustment: numbers only as plain decimals, and an emptied optional field is cleared on save.
      const adjustment = await s.api('POST', '/v2/billing_rules', { type: 'adjustment', title: 'CDN', percentage: 90, service: 'CloudFront', category: 'Data Transfer' });
      await page.goto(`${s.baseUrl}/console/billing-rules/${adjustment.body.token}`);
      await page.getByLabel('Percentage of cost shown').fill('1e1');
      await page.getByRole('button', { name: 'Save billing rule' }).click();
      await page.getByText('percentage must be a plain decimal number such as 95 or 87.5').waitFor();
      await page.getByLabel('Percentage of cost shown').fill('87.5');
      await page.getByLabel('Category').fill('');
      await page.getByRole('button', { name: 'Save billing rule' }).click();
      await page.getByText('Billing rule saved.').waitFor();
      const adjusted = (await s.api('GET', `/v2/billing_rules/${adjustment.body.token}`)).body;
      assert.equal(adjusted.percentage, '87.5');
      assert.equal(adjusted.category, null, 'the emptied category is cleared');
      assert.equal(adjusted.service, 'CloudFront');

      await nav(page, 'Integrations');
      await page.getByRole('link', { name: 'aws' }).first().click();
      await page.getByRole('heading', { level: 1, name: /aws 111111111111/ }).waitFor();
      await nav(page, 'Billing profiles');
      const refused = await s.api('GET', '/v2/billing_profiles');
      assert.equal(refused.status, 403, 'this MSP has invoicing off');
      await page.getByText(refused.body.errors[0]).waitFor();

      const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.equal(await overflow(), 0, 'nothing wider than the 390 px screen');
      assert.deepEqual(await accessibilityViolations(page), []);
      await page.goto(`${s.baseUrl}/console/accounts/new`);
      await page.getByLabel('Add a billing rule').waitFor();
      assert.equal(await overflow(), 0, 'the create form, with its long rule names, fits 390 px');
      await page.goto(`${s.baseUrl}/console/audit-logs`);
      await page.locator('tbody tr').first().waitFor();
      assert.equal(await overflow(), 0, 'the audit log fits 390 px');
      // Names are text, never markup.
      const hostile = '<img src=x onerror="window.pwned=1">Hooli';
      assert.equal((await s.api('POST', '/v2/managed_accounts', { name: hostile, contact_email: 'it@hooli.example' })).status, 201);
      await page.goto(`${s.baseUrl}/console/accounts`);
      await page.getByRole('link', { name: hostile }).waitFor();
      assert.equal(await page.locator('tbody img').count(), 0);
      assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
      await page.screenshot({ path: join(SCREENSHOTS, `console-accounts-390px-${dialect.name}.png`), fullPage: true });
      assert.deepEqual(
        s.problems.filter((p) => !/40[03] \((Bad Request|Forbidden)\)|401 \(Unauthorized\)/.test(p)),
        [],
        'no console errors besides the refused requests',
      );
    });
  });
}

describe('console headers', { skip: noBrowser }, () => {
  test('the console gets its own CSP; the API keeps default-src none', async (t) => {
    const { baseUrl } = await listeningApp(t, 'sqlite');
    const page = await fetch(`${baseUrl}/console/accounts/acct_0000000000000000`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /connect-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await page.text();
    const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, html);
    const script = await fetch(baseUrl + asset);
    assert.equal(script.status, 200);
    assert.match(await script.text(), /\/v2\/managed_accounts/);
    assert.match(script.headers.get('cache-control') ?? '', /immutable/);
    const missing = await fetch(`${baseUrl}/console/assets/nope.js`);
    assert.equal(missing.status, 404, 'a missing asset is not answered with the page');
    assert.deepEqual(await missing.json(), { errors: ['No console file at /console/assets/nope.js'] });
    const withQuery = await fetch(`${baseUrl}/console/accounts?page=abc&q=a&q=b`);
    assert.equal(withQuery.status, 200, "the API's query rules are not applied to the console's own URLs");
    await withQuery.text();
    const range = await fetch(baseUrl + asset, { headers: { range: 'bytes=99999999-' } });
    assert.equal(range.status, 416);
    await range.text();
    for (const probe of ['/console/..%2f..%2fpackage.json', '/console/%2e%2e/%2e%2e/package.json', '/console/.gitignore', '/console/assets/..%5c..%5cpackage.json']) {
      const res = await fetch(baseUrl + probe);
      assert.ok(res.status === 404 || res.status === 400, `${probe}: ${res.status}`);
      assert.doesNotMatch(await res.text(), /"name": "steward"/);
    }
    const apiAnswer = await fetch(`${baseUrl}/v2/ping`);
    assert.equal(apiAnswer.headers.get('content-security-policy'), "default-src 'none';frame-ancestors 'none'");
    await apiAnswer.text();
  });
});

describe('console files', () => {
  test('looked up when asked for: a rebuild while the server runs is served at once; unbuilt, a 503 that says what to run', async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'steward-console-'));
    const app = Fastify();
    t.after(async () => {
      await app.close();
      rmSync(root, { recursive: true, force: true });
    });
    await registerConsole(app, root);
    const unbuilt = await app.inject({ method: 'GET', url: '/console/accounts' });
    assert.equal(unbuilt.statusCode, 503);
    assert.match(unbuilt.body, /npm run build:console/);

    writeFileSync(join(root, 'index.html'), '<!doctype html><title>v1</title>');
    mkdirSync(join(root, 'assets'));
    assert.equal((await app.inject({ method: 'GET', url: '/console/assets/index-new.js' })).statusCode, 404);
    writeFileSync(join(root, 'assets', 'index-new.js'), 'console.log(1)');
    const asset = await app.inject({ method: 'GET', url: '/console/assets/index-new.js' });
    assert.equal(asset.statusCode, 200);
    assert.equal(asset.body, 'console.log(1)');
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    const page = await app.inject({ method: 'GET', url: '/console/billing-rules/new' });
    assert.equal(page.statusCode, 200);
    assert.equal(page.body, '<!doctype html><title>v1</title>');
    assert.equal(page.headers['cache-control'], 'no-cache');
    writeFileSync(join(root, '.env'), 'SECRET=1');
    assert.equal((await app.inject({ method: 'GET', url: '/console/.env' })).statusCode, 404);
  });
});
