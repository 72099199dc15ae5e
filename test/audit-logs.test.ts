import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createApiToken, requireAccount, setAccountInvoicing } from '../src/domain/accounts.ts';
import { CLI_ACTOR, recordAudit } from '../src/domain/audit.ts';
import { createIntegration } from '../src/domain/integrations.ts';
import { hashApiToken, newApiTokenSecret, nowIso } from '../src/domain/tokens.ts';
import { insertApiToken } from '../src/store/api-tokens.store.ts';
import type { Store } from '../src/store/database.ts';
import { call, DIALECTS, seedMsp, testApp, uniqueEmail, type MspFixture, type Response } from './helpers/app.ts';
import { jsonOf, steward } from './helpers/cli.ts';
import { conformingCall } from './helpers/contract.ts';

const SUBSCRIPTION = '8c1f7a0e-1f2b-4c2b-9f3d-5a6b7c8d9e01';
const METADATA = 'https://idp.example.com/saml/metadata.xml';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- records are inspected field by field
type Log = any;

/** Every audit record the token's account can see, oldest first (each response checked against the contract's AuditLogs). */
async function logs(app: FastifyInstance, token: string, query = ''): Promise<Log[]> {
  const res = await conformingCall(app, 'GET', `/v2/audit_logs?limit=5000${query ? `&${query}` : ''}`, { token });
  assert.equal(res.status, 200, res.raw);
  return res.body.audit_logs;
}

async function tokenId(store: Store, secret: string): Promise<number> {
  const row = await store.db.selectFrom('api_tokens').select('id').where('token_hash', '=', hashApiToken(secret)).executeTakeFirstOrThrow();
  return row.id;
}

/** What identifies a record, for comparing the records a request added with the ones expected. */
interface Expected {
  object_type: string;
  object_token: string | null;
  object_title: string | null;
  event: string;
}
const key = (r: Expected) => `${r.object_type} ${r.object_token} ${r.event} ${r.object_title}`;

/**
 * Runs one request and returns the records it added, asserting that the earlier records are untouched and that the
 * added ones are exactly `expected` (in any order), each from the API with the token's display name.
 */
async function recorded(
  app: FastifyInstance,
  msp: MspFixture,
  user: string,
  label: string,
  request: () => Promise<Response>,
  status: number,
  expected: (res: Response) => Expected[],
): Promise<{ res: Response; added: Log[] }> {
  const before = await logs(app, msp.token);
  const res = await request();
  assert.equal(res.status, status, `${label}: ${res.raw}`);
  const after = await logs(app, msp.token);
  assert.deepEqual(after.slice(0, before.length), before, `${label}: earlier records changed`);
  const added = after.slice(before.length);
  assert.deepEqual(added.map(key).sort(), expected(res).map(key).sort(), `${label}: records added`);
  for (const record of added) {
    assert.equal(record.source, 'api', label);
    assert.equal(record.user, user, label);
    assert.match(record.token, /^adt_lg_[0-9a-f]{16}$/);
    assert.equal(record.workspace_token, null);
    assert.equal(record.workspace_title, null);
    assert.deepEqual((await conformingCall(app, 'GET', `/v2/audit_logs/${record.token}`, { token: msp.token })).body, record, `${label}: GET by token`);
  }
  return { res, added };
}

const only = (added: Log[], objectType: string, event: string): Log => {
  const found = added.filter((r) => r.object_type === objectType && r.event === event);
  assert.equal(found.length, 1, `one ${objectType} ${event} in ${JSON.stringify(added)}`);
  return found[0];
};

/** An MSP with MSP invoicing on (billing profiles), an azure_csp integration (scopable delegations), and its token's id. */
async function invoicingMsp(app: FastifyInstance, store: Store, name = 'MSP A') {
  const msp = await seedMsp(store, name);
  await setAccountInvoicing(store.db, msp.accountToken, true);
  const owner = await requireAccount(store.db, msp.accountToken);
  const csp = (await createIntegration(store.db, owner.id, CLI_ACTOR, { provider: 'azure_csp', account_identifier: 'csp-partner' })).token;
  return { msp, csp, user: `read,write (API token ${await tokenId(store, msp.token)})` };
}

for (const dialect of DIALECTS) {
  describe(`audit logs [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('every mutation through the API is recorded once, with its cascades, and the right [old, new] values', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const { msp, csp, user } = await invoicingMsp(app, db.store);
      const [r1, r2] = msp.rules as [string, string];
      const [a1] = msp.integrations as [string];
      const step = (label: string, request: () => Promise<Response>, status: number, expected: (res: Response) => Expected[]) =>
        recorded(app, msp, user, label, request, status, expected);
      const as = (method: 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) => () => call(app, method, url, { token: msp.token, body });
      const account = (token: string, title: string, event = 'record_updated'): Expected => ({ object_type: 'ManagedAccount', object_token: token, object_title: title, event });

      // Managed accounts.
      const email = uniqueEmail('globex');
      const created = await step(
        'POST managed account',
        as('POST', '/v2/managed_accounts', { name: 'Globex', contact_email: email, email_domain: 'globex.example.com', billing_rule_tokens: [r1], access_credential_tokens: [a1, csp] }),
        201,
        (res) => [account(res.body.token, 'Globex', 'record_created')],
      );
      const acct = created.res.body.token as string;
      const listed = async (field: string) => (await call(app, 'GET', `/v2/managed_accounts/${acct}`, { token: msp.token })).body[field] as string[];
      const creation = created.added[0];
      assert.deepEqual(Object.keys(creation.changed_values).sort(), Object.keys(created.res.body).sort(), 'every field of the view');
      assert.deepEqual(creation.changed_values.name, [null, 'Globex']);
      assert.deepEqual(creation.changed_values.billing_rule_tokens, [null, [r1]]);
      assert.deepEqual(creation.changed_values.access_credential_tokens, [null, [a1, csp]]);
      assert.deepEqual(creation.unchanged_values, {});

      const put = await step('PUT managed account', as('PUT', `/v2/managed_accounts/${acct}`, { name: 'Globex Ltd', billing_rule_tokens: [r1, r2] }), 200, () => [
        account(acct, 'Globex Ltd'),
      ]);
      assert.deepEqual(put.added[0].changed_values, { name: ['Globex', 'Globex Ltd'], billing_rule_tokens: [[r1], [r1, r2]] });
      const rest = Object.fromEntries(Object.entries(put.res.body).filter(([field]) => field !== 'name' && field !== 'billing_rule_tokens'));
      assert.deepEqual(put.added[0].unchanged_values, rest, 'every other field, with its value');
      assert.equal(put.added[0].unchanged_values.contact_email, email);

      const empty = await step('PUT managed account with {}', as('PUT', `/v2/managed_accounts/${acct}`, {}), 200, () => [account(acct, 'Globex Ltd')]);
      assert.deepEqual(empty.added[0].changed_values, {}, 'a request that changes nothing is recorded with no changes');

      // SSO connection: filed under its managed account.
      const sso = (event: string): Expected => ({ object_type: 'SsoConnection', object_token: acct, object_title: 'Globex Ltd', event });
      const ssoPath = `/v2/managed_accounts/${acct}/sso_connection`;
      const ssoMade = await step('POST sso_connection', as('POST', ssoPath, { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['sso.globex.example.com'] }), 201, () => [
        sso('record_created'),
      ]);
      assert.deepEqual(ssoMade.added[0].changed_values, {
        type: [null, 'saml'],
        saml_metadata_url: [null, METADATA],
        additional_domains: [null, ['sso.globex.example.com']],
      });
      const ssoPut = await step('PUT sso_connection', as('PUT', ssoPath, { additional_domains: ['sso2.globex.example.com'] }), 200, () => [sso('record_updated')]);
      assert.deepEqual(ssoPut.added[0].changed_values, { additional_domains: [['sso.globex.example.com'], ['sso2.globex.example.com']] });
      assert.deepEqual(ssoPut.added[0].unchanged_values, { type: 'saml', saml_metadata_url: METADATA });
      const ssoGone = await step('DELETE sso_connection', as('DELETE', ssoPath), 204, () => [sso('record_destroyed')]);
      assert.deepEqual(ssoGone.added[0].changed_values.additional_domains, [['sso2.globex.example.com'], null]);
      await step('POST sso_connection again', as('POST', ssoPath, { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['sso3.globex.example.com'] }), 201, () => [
        sso('record_created'),
      ]);
      // The account takes one of its SSO domains as its email_domain: the connection gives it up (S3), recorded too.
      const handed = await step('PUT managed account email_domain', as('PUT', `/v2/managed_accounts/${acct}`, { email_domain: 'sso3.globex.example.com' }), 200, () => [
        account(acct, 'Globex Ltd'),
        sso('record_updated'),
      ]);
      assert.deepEqual(only(handed.added, 'SsoConnection', 'record_updated').changed_values, { additional_domains: [['sso3.globex.example.com'], []] });
      assert.deepEqual(only(handed.added, 'ManagedAccount', 'record_updated').changed_values, { email_domain: ['globex.example.com', 'sso3.globex.example.com'] });

      // Delegation scoping: filed under the managed account, naming the integration.
      const scoped = await step('PUT delegation', as('PUT', `/v2/managed_accounts/${acct}/integrations/${csp}`, { provider_account_identifiers: [SUBSCRIPTION] }), 200, () => [
        { object_type: 'ManagedAccountIntegration', object_token: acct, object_title: 'Globex Ltd', event: 'record_updated' },
      ]);
      assert.deepEqual(scoped.added[0].changed_values, { provider_account_identifiers: [[], [SUBSCRIPTION]] });
      assert.deepEqual(scoped.added[0].unchanged_values, { managed_account_token: acct, access_credential_token: csp, provider: 'azure_csp' });

      // Billing rules, with the managed accounts their changes rewrite.
      const rule = (token: string, title: string, event: string): Expected => ({ object_type: 'BillingRule', object_token: token, object_title: title, event });
      const ruleMade = await step('POST billing rule', as('POST', '/v2/billing_rules', { type: 'exclusion', title: 'No RI fees', charge_type: 'RIFee' }), 201, (res) => [
        rule(res.body.token, 'No RI fees', 'record_created'),
      ]);
      const r3 = ruleMade.res.body.token as string;
      assert.deepEqual(ruleMade.added[0].changed_values.charge_type, [null, 'RIFee']);
      const renamed = await step('PUT billing rule', as('PUT', `/v2/billing_rules/${r3}`, { title: 'Drop RI fees' }), 200, () => [rule(r3, 'Drop RI fees', 'record_updated')]);
      assert.deepEqual(renamed.added[0].changed_values, { title: ['No RI fees', 'Drop RI fees'] });
      let rules = await listed('billing_rule_tokens');
      const applied = await step('PUT billing rule apply_to_all', as('PUT', `/v2/billing_rules/${r3}`, { apply_to_all: true }), 200, () => [
        rule(r3, 'Drop RI fees', 'record_updated'),
        account(acct, 'Globex Ltd'),
      ]);
      assert.deepEqual(only(applied.added, 'BillingRule', 'record_updated').changed_values, { apply_to_all: [false, true] });
      // The rule joins the account's list at the end of its execution group (SPEC §4.5); the record shows the lists.
      assert.deepEqual(only(applied.added, 'ManagedAccount', 'record_updated').changed_values, { billing_rule_tokens: [rules, await listed('billing_rule_tokens')] });
      assert.deepEqual([...(await listed('billing_rule_tokens'))].sort(), [r1, r2, r3].sort());
      rules = await listed('billing_rule_tokens');
      const r4made = await step('POST apply-to-all billing rule', as('POST', '/v2/billing_rules', { type: 'adjustment', title: 'Uplift', percentage: 110, apply_to_all: true }), 201, (res) => [
        rule(res.body.token, 'Uplift', 'record_created'),
        account(acct, 'Globex Ltd'),
      ]);
      const r4 = r4made.res.body.token as string;
      assert.deepEqual(only(r4made.added, 'ManagedAccount', 'record_updated').changed_values, { billing_rule_tokens: [rules, await listed('billing_rule_tokens')] });
      assert.ok((await listed('billing_rule_tokens')).includes(r4));
      rules = await listed('billing_rule_tokens');
      const ruleGone = await step('DELETE billing rule', as('DELETE', `/v2/billing_rules/${r1}`), 204, () => [rule(r1, 'R1', 'record_destroyed'), account(acct, 'Globex Ltd')]);
      assert.deepEqual(only(ruleGone.added, 'BillingRule', 'record_destroyed').changed_values.title, ['R1', null]);
      assert.deepEqual(only(ruleGone.added, 'ManagedAccount', 'record_updated').changed_values, { billing_rule_tokens: [rules, rules.filter((r) => r !== r1)] });

      // Integrations of each provider the API makes.
      const integration = (token: string, title: string, event: string): Expected => ({ object_type: 'Integration', object_token: token, object_title: title, event });
      const custom = await step('POST custom_provider', as('POST', '/v2/integrations/custom_provider', { name: 'Internal' }), 201, (res) => [
        integration(res.body.token, 'custom_provider Internal', 'record_created'),
      ]);
      await step('POST gcp', as('POST', '/v2/integrations/gcp', { billing_account_id: '011389-EF4C3E-3ED7AE', project_id: 'p', dataset_name: 'd' }), 201, (res) => [
        integration(res.body.token, 'gcp 011389-EF4C3E-3ED7AE', 'record_created'),
      ]);
      const azure = await step('POST azure', as('POST', '/v2/integrations/azure', { tenant: 'globex.onmicrosoft.com', app_id: 'app', password: 'pw-1' }), 201, (res) => [
        integration(res.body.token, 'azure globex.onmicrosoft.com', 'record_created'),
      ]);
      assert.deepEqual(azure.added[0].changed_values.password, [null, '[FILTERED]'], 'a secret the API never returns is shown as set, not its value');
      const workspace = custom.res.body.workspace_tokens[0] as string;
      const moved = await step('PUT integration', as('PUT', `/v2/integrations/${custom.res.body.token}`, { workspace_tokens: [] }), 200, (res) => [
        integration(res.body.token, 'custom_provider Internal', 'record_updated'),
      ]);
      assert.deepEqual(moved.added[0].changed_values, { workspace_tokens: [[workspace], []], last_updated: [null, moved.res.body.last_updated] });
      const a1Gone = await step('DELETE integration', as('DELETE', `/v2/integrations/${a1}`), 204, () => [
        integration(a1, 'aws 111111111111', 'record_destroyed'),
        account(acct, 'Globex Ltd'),
      ]);
      assert.deepEqual(only(a1Gone.added, 'Integration', 'record_destroyed').changed_values.managed_account_tokens, [[acct], null]);
      assert.deepEqual(only(a1Gone.added, 'ManagedAccount', 'record_updated').changed_values, { access_credential_tokens: [[a1, csp], [csp]] });

      // Billing profiles with their nested records.
      const profile = (token: string, title: string, event: string): Expected => ({ object_type: 'BillingProfile', object_token: token, object_title: title, event });
      const made = await step(
        'POST billing profile',
        as('POST', '/v2/billing_profiles', {
          nickname: 'Globex billing',
          billing_information_attributes: { company_name: 'Globex Ltd', billing_email: ['ap@globex.example.com'] },
          invoice_adjustment_attributes: { adjustment_items: [{ name: 'Fee', calculation_type: 'fixed', amount: 10 }] },
        }),
        201,
        (res) => [profile(res.body.token, 'Globex billing', 'record_created')],
      );
      const p = made.res.body.token as string;
      assert.deepEqual(made.added[0].changed_values.invoice_adjustment_attributes, [null, made.res.body.invoice_adjustment_attributes]);
      const changedProfile = await step('PUT billing profile', as('PUT', `/v2/billing_profiles/${p}`, { nickname: 'Globex invoicing', billing_information_attributes: { city: 'Springfield' } }), 200, () => [
        profile(p, 'Globex invoicing', 'record_updated'),
      ]);
      const profileChanges = changedProfile.added[0].changed_values;
      assert.deepEqual(profileChanges.nickname, ['Globex billing', 'Globex invoicing']);
      assert.deepEqual(profileChanges.billing_information_attributes, [made.res.body.billing_information_attributes, changedProfile.res.body.billing_information_attributes]);
      assert.deepEqual(changedProfile.added[0].unchanged_values.invoice_adjustment_attributes, made.res.body.invoice_adjustment_attributes);
      await step('DELETE billing profile', as('DELETE', `/v2/billing_profiles/${p}`), 204, () => [profile(p, 'Globex invoicing', 'record_destroyed')]);

      // Deleting the account ends its SSO connection too.
      const gone = await step('DELETE managed account', as('DELETE', `/v2/managed_accounts/${acct}`), 204, () => [account(acct, 'Globex Ltd', 'record_destroyed'), sso('record_destroyed')]);
      assert.deepEqual(only(gone.added, 'ManagedAccount', 'record_destroyed').changed_values.name, ['Globex Ltd', null]);
      assert.deepEqual(only(gone.added, 'ManagedAccount', 'record_destroyed').unchanged_values, {});
    });

    test('a rejected request (400, 404 for another tenant, 403, 401) leaves no audit record', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const { msp: a } = await invoicingMsp(app, db.store, 'MSP A');
      const { msp: b } = await invoicingMsp(app, db.store, 'MSP B');
      const acct = (await call(app, 'POST', '/v2/managed_accounts', { token: a.token, body: { name: 'Initech', contact_email: uniqueEmail() } })).body.token;
      const profile = (await call(app, 'POST', '/v2/billing_profiles', { token: a.token, body: { nickname: 'In use' } })).body.token;
      assert.equal((await call(app, 'PUT', `/v2/managed_accounts/${acct}`, { token: a.token, body: { msp_billing_profile_token: profile } })).status, 200);
      const rows = async () => (await db.store.db.selectFrom('audit_logs').selectAll().orderBy('id').execute()).map((r) => JSON.stringify(r));
      const before = await rows();
      const refused: Array<[number, 'POST' | 'PUT' | 'DELETE', string, string | undefined, unknown]> = [
        [400, 'POST', '/v2/managed_accounts', a.token, { name: '', contact_email: uniqueEmail() }],
        [400, 'PUT', `/v2/managed_accounts/${acct}`, a.token, { name: 'Fine', billing_rule_tokens: ['bllng_rule_0000000000000000'] }],
        [400, 'PUT', `/v2/billing_rules/${a.rules[0]}`, a.token, { title: '' }],
        [400, 'DELETE', `/v2/billing_profiles/${profile}`, a.token, undefined],
        [400, 'POST', `/v2/managed_accounts/${acct}/sso_connection`, a.token, { type: 'saml', saml_metadata_url: METADATA }],
        [400, 'POST', '/v2/integrations/azure', a.token, { tenant: 't', app_id: 'x', password: '' }],
        [404, 'PUT', `/v2/managed_accounts/${acct}`, b.token, { name: 'Hijacked' }],
        [404, 'DELETE', `/v2/billing_rules/${a.rules[0]}`, b.token, undefined],
        [404, 'DELETE', `/v2/integrations/${a.integrations[0]}`, b.token, undefined],
        [403, 'POST', '/v2/billing_rules', a.readOnly, { type: 'exclusion', title: 'x', charge_type: 'RIFee' }],
        [403, 'DELETE', `/v2/managed_accounts/${acct}`, a.readOnly, undefined],
        [401, 'DELETE', `/v2/managed_accounts/${acct}`, undefined, undefined],
      ];
      for (const [status, method, url, token, body] of refused) {
        const res = await call(app, method, url, { token, body });
        assert.equal(res.status, status, `${method} ${url}: ${res.raw}`);
      }
      assert.deepEqual(await rows(), before, 'the audit_logs table is unchanged');
      assert.equal((await logs(app, a.token, 'action=delete')).length, 0);
    });

    test('secrets never appear: an azure password and banking secure_data are [FILTERED] in the API and the table', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const { msp } = await invoicingMsp(app, db.store);
      const password = `pw-${randomBytes(8).toString('hex')}`;
      const secure = { account_number: `AN${randomBytes(6).toString('hex')}`, routing_number: '011000015', iban: `FR76${randomBytes(8).toString('hex')}`, swift_bic: 'AGRIFRPP' };
      const newIban = `DE89${randomBytes(8).toString('hex')}`;
      const azure = await call(app, 'POST', '/v2/integrations/azure', { token: msp.token, body: { tenant: 'contoso.onmicrosoft.com', app_id: 'app', password } });
      assert.equal(azure.status, 201, azure.raw);
      const made = await call(app, 'POST', '/v2/billing_profiles', {
        token: msp.token,
        body: { nickname: 'Banked', banking_information_attributes: { bank_name: 'First Bank', secure_data: secure } },
      });
      assert.equal(made.status, 201, made.raw);
      const path = `/v2/billing_profiles/${made.body.token}`;
      const same = await call(app, 'PUT', path, { token: msp.token, body: { banking_information_attributes: { secure_data: { iban: secure.iban } } } });
      const changed = await call(app, 'PUT', path, { token: msp.token, body: { banking_information_attributes: { secure_data: { iban: newIban } } } });
      assert.equal(same.status, 200, same.raw);
      assert.equal(changed.status, 200, changed.raw);
      assert.equal((await call(app, 'DELETE', path, { token: msp.token })).status, 204);
      assert.equal((await call(app, 'DELETE', `/v2/integrations/${azure.body.token}`, { token: msp.token })).status, 204);

      const records = await logs(app, msp.token, `object_token=${made.body.token}`);
      assert.deepEqual(records.map((r) => r.event), ['record_created', 'record_updated', 'record_updated', 'record_destroyed']);
      const [created, unchanged, updated, destroyed] = records;
      assert.equal(created.changed_values.banking_information_attributes[1].secure_data, '[FILTERED]');
      assert.equal(created.changed_values.banking_information_attributes[1].bank_name, 'First Bank');
      // Compared in the clear: re-sending the same value is no change; a new value is a visible change of hidden values.
      assert.equal(unchanged.unchanged_values.banking_information_attributes.secure_data, '[FILTERED]');
      assert.ok(!('banking_information_attributes' in unchanged.changed_values));
      assert.deepEqual(
        updated.changed_values.banking_information_attributes.map((v: { secure_data: string }) => v.secure_data),
        ['[FILTERED]', '[FILTERED]'],
      );
      assert.equal(destroyed.changed_values.banking_information_attributes[0].secure_data, '[FILTERED]');
      const azureRecords = await logs(app, msp.token, `object_token=${azure.body.token}`);
      assert.deepEqual(azureRecords.map((r) => r.changed_values.password), [[null, '[FILTERED]'], ['[FILTERED]', null]]);

      const secrets = [password, secure.account_number, secure.iban, secure.routing_number, newIban];
      const api = [(await call(app, 'GET', '/v2/audit_logs?limit=5000', { token: msp.token })).raw];
      for (const r of [...records, ...azureRecords]) api.push((await call(app, 'GET', `/v2/audit_logs/${r.token}`, { token: msp.token })).raw);
      const table = JSON.stringify(await db.store.db.selectFrom('audit_logs').selectAll().execute());
      for (const secret of secrets) {
        for (const raw of api) assert.ok(!raw.includes(secret), `the API shows a secret: ${secret}`);
        assert.ok(!table.includes(secret), `the audit_logs table holds a secret: ${secret}`);
      }
    });

    test('filters, pagination (default 100, max 5000, clamped), user display, dates; a bad filter is a 400 naming it', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const { msp } = await invoicingMsp(app, db.store);
      const owner = await requireAccount(db.store.db, msp.accountToken);
      const terraform = await createApiToken(db.store.db, { accountToken: msp.accountToken, scopes: 'read,write', description: 'terraform' });
      const terraformId = await tokenId(db.store, terraform.token);
      const rwId = await tokenId(db.store, msp.token);
      // A token issued to an OAuth client names the client.
      const client = await db.store.db
        .insertInto('oauth_clients')
        .values({ client_id: 'stw_client_0123456789abcdef', secret_hash: 'x', account_id: owner.id, scopes: 'read,write', description: null, created_at: nowIso() })
        .returning('id')
        .executeTakeFirstOrThrow();
      const oauthSecret = newApiTokenSecret();
      const oauthToken = await insertApiToken(db.store.db, owner.id, {
        token_hash: hashApiToken(oauthSecret),
        scopes: 'read,write',
        description: null,
        created_at: nowIso(),
        expires_at: null,
        oauth_client_id: client.id,
      });

      const rule = await call(app, 'POST', '/v2/billing_rules', { token: terraform.token, body: { type: 'exclusion', title: 'Terraformed', charge_type: 'RIFee' } });
      assert.equal(rule.status, 201, rule.raw);
      assert.equal((await call(app, 'PUT', `/v2/billing_rules/${rule.body.token}`, { token: oauthSecret, body: { title: 'OAuthed' } })).status, 200);
      const acct = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Hooli', contact_email: uniqueEmail() } });
      assert.equal(acct.status, 201, acct.raw);

      const all = await logs(app, msp.token);
      assert.equal(all.length, 8, 'seedMsp (2 integrations, 2 rules), the azure_csp integration, and three API changes');
      assert.deepEqual(all.map((r) => r.user), [
        ...Array(5).fill('steward CLI'),
        `terraform (API token ${terraformId})`,
        `OAuth client stw_client_0123456789abcdef (API token ${oauthToken.id})`,
        `read,write (API token ${rwId})`,
      ]);
      const tokensOf = (list: Log[]) => list.map((r) => r.token);
      const pick = (f: (r: Log) => boolean) => tokensOf(all.filter(f));
      assert.deepEqual(tokensOf(await logs(app, msp.token, `user=${terraformId}`)), pick((r) => r.user.startsWith('terraform')));
      assert.deepEqual(tokensOf(await logs(app, msp.token, `user=${oauthToken.id}`)), pick((r) => r.user.startsWith('OAuth')));
      assert.deepEqual(tokensOf(await logs(app, msp.token, 'action=update')), pick((r) => r.event === 'record_updated'));
      assert.deepEqual(tokensOf(await logs(app, msp.token, 'action=create')), pick((r) => r.event === 'record_created'));
      assert.deepEqual(await logs(app, msp.token, 'action=delete'), []);
      assert.deepEqual(tokensOf(await logs(app, msp.token, 'object_type=billing_rule')), pick((r) => r.object_type === 'BillingRule'));
      assert.deepEqual(tokensOf(await logs(app, msp.token, 'object_type=managed_account')), [all[7].token]);
      assert.deepEqual(await logs(app, msp.token, 'object_type=cost_report'), [], "the contract's values are accepted and match nothing");
      assert.deepEqual(tokensOf(await logs(app, msp.token, `object_token=${rule.body.token}`)), [all[5].token, all[6].token]);
      assert.deepEqual(tokensOf(await logs(app, msp.token, `token=${all[3].token}`)), [all[3].token]);
      assert.deepEqual(tokensOf(await logs(app, msp.token, 'object_name=OAuthed')), [all[6].token]);
      assert.deepEqual(tokensOf(await logs(app, msp.token, 'object_name=Terraformed')), [all[5].token], 'the title when the record was made');
      assert.deepEqual(tokensOf(await logs(app, msp.token, 'source=cli')), tokensOf(all.slice(0, 5)));
      assert.deepEqual(tokensOf(await logs(app, msp.token, 'source=api')), tokensOf(all.slice(5)));
      assert.deepEqual(await logs(app, msp.token, 'source=console'), []);
      assert.deepEqual(await logs(app, msp.token, 'workspace_token=wrkspc_0123456789abcdef'), []);
      assert.deepEqual(tokensOf(await logs(app, msp.token, 'source=api&action=create&user=' + rwId)), [all[7].token], 'filters combine');

      // Dates: inclusive, by created_at (UTC days).
      const today = nowIso().slice(0, 10);
      await db.store.db.updateTable('audit_logs').set({ created_at: '2024-06-01T23:59:59Z' }).where('token', '=', all[0].token).execute();
      await db.store.db.updateTable('audit_logs').set({ created_at: '2024-06-02T00:00:00Z' }).where('token', '=', all[1].token).execute();
      assert.deepEqual(tokensOf(await logs(app, msp.token, 'end_date=2024-06-01')), [all[0].token]);
      assert.deepEqual(tokensOf(await logs(app, msp.token, 'start_date=2024-06-02&end_date=2024-06-02')), [all[1].token]);
      assert.deepEqual(tokensOf(await logs(app, msp.token, 'start_date=2024-06-01&end_date=2024-06-02')), [all[0].token, all[1].token]);
      assert.deepEqual(tokensOf(await logs(app, msp.token, `start_date=${today}&end_date=${today}`)), tokensOf(all.slice(2)));

      const bad: Array<[string, RegExp]> = [
        ['user=terraform', /^user must be a whole number written in digits \(e\.g\. user=12\)$/],
        ['user=0x1', /^user must be a whole number written in digits/],
        ['user=1e3', /^user must be a whole number written in digits/],
        ['user=0', /^user must be greater than or equal to 1$/],
        ['action=create,update', /^action must be one of create, update, delete$/],
        ['object_type=Report', /^object_type must be one of .*managed_account.*cost_report/],
        ['source=terminal', /^source must be one of api, cli, console, finops_agent$/],
        ['start_date=2024-02-30', /^start_date must be a date written as YYYY-MM-DD/],
        ['end_date=yesterday', /^end_date must be a date written as YYYY-MM-DD/],
        ['start_date=2024-06-02&end_date=2024-06-01', /^end_date must be on or after start_date \(2024-06-02\)$/],
        ['limit=0', /^limit must be greater than or equal to 1$/],
        ['page=0', /^page must be greater than or equal to 1$/],
      ];
      for (const [query, message] of bad) {
        const res = await call(app, 'GET', `/v2/audit_logs?${query}`, { token: msp.token });
        assert.equal(res.status, 400, `${query}: ${res.raw}`);
        assert.equal(res.body.errors.length, 1, res.raw);
        assert.match(res.body.errors[0], message, query);
      }

      // Pagination: 100 by default, at most 5000 (a larger limit is clamped, as M8 does at 1000).
      for (let i = 0; i < 95; i++) {
        await recordAudit(db.store.db, owner.id, CLI_ACTOR, { objectType: 'BillingRule', objectToken: null, objectTitle: `bulk ${i}`, event: 'record_updated', before: {}, after: {} });
      }
      const first = await call(app, 'GET', '/v2/audit_logs', { token: msp.token });
      assert.equal(first.body.audit_logs.length, 100);
      assert.deepEqual(tokensOf(first.body.audit_logs.slice(0, 8)), tokensOf(await logs(app, msp.token)).slice(0, 8), 'oldest first');
      assert.equal(first.body.links.next, 'https://steward.test/v2/audit_logs?page=2');
      const second = await call(app, 'GET', first.body.links.next, { token: msp.token });
      assert.equal(second.body.audit_logs.length, 3);
      assert.equal(second.body.links.next, null);
      const clamped = await call(app, 'GET', '/v2/audit_logs?limit=6000', { token: msp.token });
      assert.equal(clamped.status, 200, clamped.raw);
      assert.equal(clamped.body.audit_logs.length, 103);
      assert.equal(clamped.body.links.last, 'https://steward.test/v2/audit_logs?limit=6000&page=1');
      const filteredPage = await call(app, 'GET', '/v2/audit_logs?source=cli&limit=40', { token: msp.token });
      assert.equal(filteredPage.body.audit_logs.length, 40);
      assert.equal(filteredPage.body.links.next, 'https://steward.test/v2/audit_logs?source=cli&limit=40&page=2', 'links keep the filters');
      assert.equal(filteredPage.body.links.last, 'https://steward.test/v2/audit_logs?source=cli&limit=40&page=3', '100 records from the CLI');
    });

    test('tenant isolation: each account sees only its own records; another tenant\'s record is a 404 like one that never existed', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const { msp: a } = await invoicingMsp(app, db.store, 'MSP A');
      const { msp: b } = await invoicingMsp(app, db.store, 'MSP B');
      const bAccount = await call(app, 'POST', '/v2/managed_accounts', { token: b.token, body: { name: 'B customer', contact_email: uniqueEmail() } });
      assert.equal(bAccount.status, 201, bAccount.raw);
      const aLogs = await call(app, 'GET', '/v2/audit_logs', { token: a.token });
      for (const token of [bAccount.body.token, b.accountToken, ...b.rules, ...b.integrations]) assert.ok(!aLogs.raw.includes(token), `A sees ${token}`);
      const bLogs = await logs(app, b.token);
      assert.equal(bLogs.length, 6);
      assert.equal(bLogs[5].object_token, bAccount.body.token);
      const foreign = await conformingCall(app, 'GET', `/v2/audit_logs/${bLogs[5].token}`, { token: a.token });
      const never = await call(app, 'GET', '/v2/audit_logs/adt_lg_0000000000000000', { token: a.token });
      const malformed = await call(app, 'GET', '/v2/audit_logs/not-a-token', { token: a.token });
      for (const res of [foreign, never, malformed]) {
        assert.equal(res.status, 404, res.raw);
        assert.equal(res.raw, '{"errors":["Audit log not found"]}');
      }
      assert.deepEqual(await logs(app, a.token, `object_token=${bAccount.body.token}`), []);
      assert.deepEqual(await logs(app, a.token, `token=${bLogs[5].token}`), []);
      // A non-MSP account (B's managed account) reads its own log: its own integrations.
      const plain = await createApiToken(db.store.db, { accountToken: bAccount.body.token, scopes: 'read,write' });
      const own = await call(app, 'POST', '/v2/integrations/custom_provider', { token: plain.token, body: { name: 'Mine' } });
      assert.equal(own.status, 201, own.raw);
      assert.deepEqual((await logs(app, plain.token)).map((r) => [r.object_token, r.event]), [[own.body.token, 'record_created']]);
      assert.equal((await logs(app, b.token)).length, 6, "a managed account's own changes are its own, not its parent's");
    });

    test('a CLI change is in the API\'s audit log with source cli and user "steward CLI"', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const rule = jsonOf(await steward(db, 'billing-rules', 'create', '--account', msp.accountToken, '--type', 'adjustment', '--title', 'From the CLI', '--percentage', '80', '--json'));
      const deleted = await steward(db, 'integrations', 'delete', msp.integrations[1] as string, '--account', msp.accountToken);
      assert.equal(deleted.code, 0, deleted.stderr);
      const records = await logs(app, msp.token, 'source=cli&start_date=2000-01-01');
      const [made, gone] = records.slice(-2);
      assert.deepEqual(
        { object_type: made.object_type, object_token: made.object_token, object_title: made.object_title, event: made.event, source: made.source, user: made.user },
        { object_type: 'BillingRule', object_token: rule.token, object_title: 'From the CLI', event: 'record_created', source: 'cli', user: 'steward CLI' },
      );
      assert.deepEqual(made.changed_values.percentage, [null, rule.percentage]);
      assert.deepEqual([gone.object_token, gone.event, gone.user], [msp.integrations[1], 'record_destroyed', 'steward CLI']);
    });
  });
}
