import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { initial } from '../src/store/migrations/0001_initial.ts';
import { references } from '../src/store/migrations/0002_references.ts';
import { trust } from '../src/store/migrations/0003_trust.ts';
import {
  claimDomain,
  deleteManagedAccount,
  findManagedAccount,
  insertAccount,
  insertAccountsInBulk,
  loadDelegatedTokens,
  loadRuleTokens,
  replaceDelegations,
  replaceRuleAssignments,
  type BulkAccount,
} from '../src/store/accounts.store.ts';
import { findBillingRulesByTokens, insertBillingRule } from '../src/store/billing-rules.store.ts';
import { dropPgSchema, migrate, migrationStatus, migratorFor, openStore, type Store } from '../src/store/database.ts';
import { uniqueViolation } from '../src/store/errors.ts';
import { inTransaction } from '../src/store/transaction.ts';
import { findIntegrationsByTokens, insertIntegration } from '../src/store/integrations.store.ts';
import type { AccountRow, BillingRuleRow, Database, IntegrationRow } from '../src/store/schema.ts';
import { DIALECTS, freshDatabase, type TestDatabase } from './helpers/app.ts';

type Db = Kysely<Database>;

const hex = () => randomBytes(8).toString('hex');
const NOW = '2024-05-01T00:00:00Z';

async function database(t: TestContext, dialect: 'sqlite' | 'postgres'): Promise<TestDatabase> {
  const db = await freshDatabase(dialect);
  t.after(() => db.close());
  return db;
}

function msp(db: Db, name = 'MSP'): Promise<AccountRow> {
  return insertAccount(db, {
    token: `acct_${hex()}`,
    parent_id: null,
    name,
    contact_email: null,
    contact_email_key: null,
    email_domain: null,
    is_msp: true,
    created_at: NOW,
  }, `wrkspc_${hex()}`);
}

function child(db: Db, parentId: number, email: string, emailDomain: string | null = null): Promise<AccountRow> {
  return insertAccount(db, {
    token: `acct_${hex()}`,
    parent_id: parentId,
    name: `Child ${email}`,
    contact_email: email,
    contact_email_key: email.toLowerCase(),
    email_domain: emailDomain,
    is_msp: false,
    created_at: NOW,
  }, `wrkspc_${hex()}`);
}

function integration(db: Db, ownerId: number, identifier = '111111111111'): Promise<IntegrationRow> {
  return insertIntegration(db, ownerId, { token: `accss_crdntl_${hex()}`, provider: 'aws', account_identifier: identifier, status: 'connected', created_at: NOW });
}

function rule(db: Db, owner: AccountRow, title: string): Promise<BillingRuleRow> {
  return insertBillingRule(db, owner.id, {
    token: `bllng_rule_${hex()}`,
    type: 'adjustment',
    title,
    stage: 3,
    apply_to_all: 0,
    percentage: '90.0',
    created_by_token: owner.token,
    created_at: NOW,
  });
}

/** Runs `write`, which must fail; returns what uniqueViolation makes of the error. */
async function violation(write: () => Promise<unknown>): Promise<ReturnType<typeof uniqueViolation>> {
  try {
    await write();
  } catch (error) {
    return uniqueViolation(error);
  }
  assert.fail('the write should have been rejected');
}

async function count(db: Db, table: keyof Database): Promise<number> {
  const row = await db.selectFrom(table).select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

for (const dialect of DIALECTS) {
  describe(`store [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('migrate() a second time is a no-op: it succeeds and leaves tables and rows intact', async (t) => {
      const db = await database(t, dialect.name);
      const owner = await msp(db.store.db);
      await integration(db.store.db, owner.id);
      await migrate(db.store);
      await migrate(db.store);
      const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db.store.db);
      assert.deepEqual(applied.rows.map((r) => r.name), ['0001_initial', '0002_references', '0003_trust', '0004_normalised_emails', '0005_list_order_indexes']);
      assert.equal(await count(db.store.db, 'accounts'), 1);
      assert.equal(await count(db.store.db, 'integrations'), 1);
      for (const table of ['claimed_domains', 'billing_rules', 'managed_account_billing_rules', 'managed_account_integrations', 'api_tokens'] as const) {
        assert.equal(await count(db.store.db, table), 0, `${table} exists and is empty`);
      }
    });

    test('0004 rewrites contact-email keys in NFC; of two existing accounts that turn out to share an address, the one not in NFC keeps its old key', async (t) => {
      const db = await freshDatabase(dialect.name, {}, { migrated: false });
      t.after(() => db.close());
      const upTo0003 = await migratorFor(db.store, { '0001_initial': initial(db.store.dialect), '0002_references': references(db.store.dialect), '0003_trust': trust(db.store.dialect) });
      assert.equal((await upTo0003.migrateToLatest()).error, undefined);
      const decomposed = 'jose\u0301@example.com'; // e + combining acute, as 0003's keys kept it
      const precomposed = 'jos\u00e9@example.com';
      const owner = await msp(db.store.db);
      const a = await child(db.store.db, owner.id, 'ascii@example.com');
      const b = await child(db.store.db, owner.id, decomposed);
      const c = await child(db.store.db, owner.id, 'zoe\u0308@example.com');
      const d = await child(db.store.db, owner.id, 'ZO\u00cb@example.com'.toLowerCase());
      await migrate(db.store);
      const keys = Object.fromEntries(
        (await db.store.db.selectFrom('accounts').select(['id', 'contact_email_key']).execute()).map((r) => [r.id, r.contact_email_key]),
      );
      assert.equal(keys[a.id], 'ascii@example.com');
      assert.equal(keys[b.id], precomposed, 'rewritten in NFC');
      assert.equal(keys[d.id], 'zo\u00eb@example.com', 'already NFC');
      assert.equal(keys[c.id], 'zoe\u0308@example.com', 'the same address as d, which holds the NFC key: kept as it was');
      assert.equal(await violation(() => child(db.store.db, owner.id, precomposed)), 'contact_email', 'the address is now taken in either form');
    });

    test('0002 on a database made by 0001 gives every existing account a default workspace fed by its integrations', async (t) => {
      let store: Store;
      if (dialect.name === 'postgres') {
        const url = process.env.TEST_DATABASE_URL as string;
        const schema = `steward_test_${randomBytes(6).toString('hex')}`;
        store = await openStore(url, { pgSchema: schema });
        t.after(async () => {
          await store.close();
          await dropPgSchema(url, schema);
        });
      } else {
        const dir = mkdtempSync(join(tmpdir(), 'steward-test-'));
        store = await openStore(join(dir, 'steward.sqlite'));
        t.after(async () => {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        });
      }
      const only0001 = await migratorFor(store, { '0001_initial': initial(store.dialect) });
      assert.equal((await only0001.migrateToLatest()).error, undefined);
      const db = store.db as unknown as Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- the 0001 schema
      const [a, b] = [`acct_${hex()}`, `acct_${hex()}`];
      await db.insertInto('accounts').values([
        { token: a, parent_id: null, name: 'Old MSP', is_msp: 1, created_at: NOW },
        { token: b, parent_id: null, name: 'Old customer', is_msp: 0, created_at: '2024-06-01T00:00:00Z' },
      ]).execute();
      const owner = await db.selectFrom('accounts').select('id').where('token', '=', a).executeTakeFirstOrThrow();
      await db.insertInto('integrations').values({ token: `accss_crdntl_${hex()}`, account_id: owner.id, provider: 'aws', account_identifier: '1', status: 'connected', created_at: NOW }).execute();

      await migrate(store);
      const workspaces = await store.db.selectFrom('workspaces as w').innerJoin('accounts as a', 'a.id', 'w.account_id').select(['a.token', 'w.token as workspace', 'w.name', 'w.created_at', 'w.currency']).orderBy('a.id').execute();
      assert.deepEqual(workspaces.map((w) => [w.token, w.name, w.created_at, w.currency]), [[a, 'Default', NOW, 'USD'], [b, 'Default', '2024-06-01T00:00:00Z', 'USD']]);
      for (const w of workspaces) assert.match(w.workspace, /^wrkspc_[0-9a-f]{16}$/);
      const fed = await store.db.selectFrom('integration_workspaces').selectAll().execute();
      assert.equal(fed.length, 1);
      assert.equal(await count(store.db, 'billing_profiles'), 0);
    });

    test('inTransaction reruns a transaction Postgres aborted as a deadlock victim, and nothing of the failed try is kept', async (t) => {
      const db = await database(t, dialect.name);
      let attempts = 0;
      const result = await inTransaction(db.store.db, async (trx) => {
        attempts += 1;
        await msp(trx, `Attempt ${attempts}`);
        if (attempts < 3) throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
        return 'done';
      });
      assert.equal(result, 'done');
      assert.equal(attempts, 3);
      assert.deepEqual((await db.store.db.selectFrom('accounts').select('name').execute()).map((r) => r.name), ['Attempt 3']);
      // Anything else is not retried.
      let tries = 0;
      await assert.rejects(inTransaction(db.store.db, async () => { tries += 1; throw Object.assign(new Error('dup'), { code: '23505' }); }), /dup/);
      assert.equal(tries, 1);
      // Four aborts in a row: the fourth is reported.
      let aborted = 0;
      await assert.rejects(inTransaction(db.store.db, async () => { aborted += 1; throw Object.assign(new Error('serialize'), { code: '40001' }); }), /serialize/);
      assert.equal(aborted, 4);
    });

    test('concurrent first starts on a brand-new database migrate it once and all succeed', async (t) => {
      if (dialect.name === 'postgres') {
        const url = process.env.TEST_DATABASE_URL as string;
        const schema = `steward_test_${randomBytes(6).toString('hex')}`;
        const stores: Store[] = [];
        for (let i = 0; i < 3; i++) stores.push(await openStore(url, { pgSchema: schema }));
        t.after(async () => {
          for (const store of stores) await store.close();
          await dropPgSchema(url, schema);
        });
        const results = await Promise.allSettled(stores.map((store) => migrate(store)));
        assert.deepEqual(results.map((r) => (r.status === 'fulfilled' ? 'ok' : String(r.reason))), ['ok', 'ok', 'ok']);
        const applied = await sql<{ name: string }>`select name from kysely_migration`.execute((stores[0] as Store).db);
        assert.deepEqual(applied.rows.map((r) => r.name), ['0001_initial', '0002_references', '0003_trust', '0004_normalised_emails', '0005_list_order_indexes']);
        return;
      }
      // SQLite: separate processes, as in real life (better-sqlite3 is synchronous, so connections in one process
      // cannot wait for each other). Each CLI command migrates the new file, then writes.
      const dir = mkdtempSync(join(tmpdir(), 'steward-test-'));
      const path = join(dir, 'steward.sqlite');
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const run = promisify(execFile);
      const bin = fileURLToPath(new URL('../bin/steward.js', import.meta.url));
      const results = await Promise.allSettled(
        [1, 2, 3, 4].map((i) => run(process.execPath, [bin, 'accounts', 'create', '--name', `Concurrent ${i}`, '--json', '--database', path])),
      );
      assert.deepEqual(results.map((r) => (r.status === 'fulfilled' ? 'ok' : String(r.reason))), ['ok', 'ok', 'ok', 'ok']);
      const store = await openStore(path);
      t.after(() => store.close());
      const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(store.db);
      assert.deepEqual(applied.rows.map((r) => r.name), ['0001_initial', '0002_references', '0003_trust', '0004_normalised_emails', '0005_list_order_indexes']);
      assert.equal(await count(store.db, 'accounts'), 4);
    });

    test('unique contact_email_key and claimed domains are enforced and recognised by uniqueViolation', async (t) => {
      const db = await database(t, dialect.name);
      const owner = await msp(db.store.db);
      const other = await msp(db.store.db, 'Other MSP');
      const first = await child(db.store.db, owner.id, 'Admin@Example.com');
      assert.equal(await violation(() => child(db.store.db, other.id, 'admin@example.COM')), 'contact_email');
      assert.equal(await count(db.store.db, 'accounts'), 3, 'the rejected insert left nothing behind');
      // Top-level accounts have no contact email; any number of NULL keys coexist.
      await msp(db.store.db, 'Third MSP');

      await claimDomain(db.store.db, first.id, 'acme.example.com', 'email_domain');
      const second = await child(db.store.db, other.id, 'someone@example.org');
      assert.equal(await violation(() => claimDomain(db.store.db, second.id, 'acme.example.com', 'sso')), 'domain');
      assert.equal(await violation(() => claimDomain(db.store.db, first.id, 'acme.example.com', 'email_domain')), 'domain');
      const claims = await db.store.db.selectFrom('claimed_domains').selectAll().execute();
      assert.deepEqual(claims, [{ domain_key: 'acme.example.com', account_id: first.id, source: 'email_domain' }]);

      // Other unique columns are 'other'; errors that are not unique violations are null.
      const sameToken = { token: first.token, parent_id: null, name: 'Copy', contact_email: null, contact_email_key: null, email_domain: null, is_msp: false, created_at: NOW };
      assert.equal(await violation(() => insertAccount(db.store.db, sameToken, `wrkspc_${hex()}`)), 'other');
      assert.equal(uniqueViolation(new Error('boom')), null);
      assert.equal(uniqueViolation(undefined), null);
    });

    test('deleting a managed account cascades to its domains, rule assignments and delegations, not to the parent', async (t) => {
      const db = await database(t, dialect.name);
      const store = db.store.db;
      const owner = await msp(store);
      const other = await msp(store, 'Other MSP');
      const [i1, i2] = [await integration(store, owner.id, '1'), await integration(store, owner.id, '2')];
      const [r1, r2] = [await rule(store, owner, 'R1'), await rule(store, owner, 'R2')];
      const doomed = await child(store, owner.id, 'doomed@example.com', 'doomed.example.com');
      const kept = await child(store, owner.id, 'kept@example.com', 'kept.example.com');
      for (const account of [doomed, kept]) {
        await claimDomain(store, account.id, account.email_domain as string, 'email_domain');
        await replaceRuleAssignments(store, account.id, [r1.id, r2.id]);
        await replaceDelegations(store, account.id, [i1.id, i2.id]);
      }

      assert.equal(await deleteManagedAccount(store, other.id, doomed.token), false, 'another parent cannot delete it');
      assert.equal(await deleteManagedAccount(store, owner.id, doomed.token), true);
      assert.equal(await deleteManagedAccount(store, owner.id, doomed.token), false, 'already gone');

      const leftover = async (table: 'claimed_domains' | 'managed_account_billing_rules' | 'managed_account_integrations', accountId: number) =>
        (await store.selectFrom(table).select('account_id').where('account_id', '=', accountId).execute()).length;
      for (const table of ['claimed_domains', 'managed_account_billing_rules', 'managed_account_integrations'] as const) {
        assert.equal(await leftover(table, doomed.id), 0, `${table} rows of the deleted account are gone`);
      }
      assert.equal(await leftover('claimed_domains', kept.id), 1);
      assert.equal(await leftover('managed_account_billing_rules', kept.id), 2);
      assert.equal(await leftover('managed_account_integrations', kept.id), 2);
      assert.deepEqual((await findIntegrationsByTokens(store, owner.id, [i1.token, i2.token])).map((i) => i.id).sort(), [i1.id, i2.id].sort());
      assert.deepEqual((await findBillingRulesByTokens(store, owner.id, [r1.token, r2.token])).map((r) => r.id).sort(), [r1.id, r2.id].sort());
      assert.equal(await findManagedAccount(store, owner.id, doomed.token), undefined);
      assert.equal((await findManagedAccount(store, owner.id, kept.token))?.id, kept.id);
      // The freed domain can be claimed again.
      await claimDomain(store, kept.id, 'doomed.example.com', 'sso');
    });

    test('lookups are scoped to the owner: another parent finds nothing', async (t) => {
      const db = await database(t, dialect.name);
      const store = db.store.db;
      const a = await msp(store, 'MSP A');
      const b = await msp(store, 'MSP B');
      const aChild = await child(store, a.id, 'a-child@example.com');
      const aIntegration = await integration(store, a.id);
      const aRule = await rule(store, a, 'A rule');
      const bIntegration = await integration(store, b.id);
      const bRule = await rule(store, b, 'B rule');

      assert.equal((await findManagedAccount(store, a.id, aChild.token))?.token, aChild.token);
      assert.equal(await findManagedAccount(store, b.id, aChild.token), undefined);
      assert.equal(await findManagedAccount(store, aChild.id, aChild.token), undefined, 'an account is not its own parent');
      assert.equal(await findManagedAccount(store, a.id, a.token), undefined, 'a parent is not its own managed account');

      assert.deepEqual(await findBillingRulesByTokens(store, b.id, [aRule.token]), []);
      assert.deepEqual(await findIntegrationsByTokens(store, b.id, [aIntegration.token]), []);
      assert.deepEqual((await findBillingRulesByTokens(store, b.id, [aRule.token, bRule.token])).map((r) => r.token), [bRule.token]);
      assert.deepEqual((await findIntegrationsByTokens(store, b.id, [aIntegration.token, bIntegration.token])).map((i) => i.token), [bIntegration.token]);
      assert.deepEqual((await findBillingRulesByTokens(store, a.id, [aRule.token])).map((r) => r.token), [aRule.token]);
      assert.deepEqual((await findIntegrationsByTokens(store, a.id, [aIntegration.token])).map((i) => i.token), [aIntegration.token]);
      assert.deepEqual(await findBillingRulesByTokens(store, a.id, []), []);
      assert.deepEqual(await findIntegrationsByTokens(store, a.id, []), []);
    });

    test('loadRuleTokens returns each account’s tokens in position order, for several accounts in one call', async (t) => {
      const db = await database(t, dialect.name);
      const store = db.store.db;
      const owner = await msp(store);
      const rules: BillingRuleRow[] = [];
      for (const title of ['R0', 'R1', 'R2', 'R3']) rules.push(await rule(store, owner, title));
      const [r0, r1, r2, r3] = rules as [BillingRuleRow, BillingRuleRow, BillingRuleRow, BillingRuleRow];
      const x = await child(store, owner.id, 'x@example.com');
      const y = await child(store, owner.id, 'y@example.com');
      const z = await child(store, owner.id, 'z@example.com');
      await replaceRuleAssignments(store, x.id, [r3.id, r0.id, r2.id]);
      // Rows inserted out of position order: the order comes from `position`, not from insertion.
      await store
        .insertInto('managed_account_billing_rules')
        .values([
          { account_id: y.id, billing_rule_id: r0.id, position: 2 },
          { account_id: y.id, billing_rule_id: r1.id, position: 0 },
          { account_id: y.id, billing_rule_id: r3.id, position: 1 },
        ])
        .execute();

      const loaded = await loadRuleTokens(store, [z.id, y.id, x.id]);
      assert.deepEqual(
        [...loaded.entries()],
        [
          [z.id, []],
          [y.id, [r1.token, r3.token, r0.token]],
          [x.id, [r3.token, r0.token, r2.token]],
        ],
      );
      assert.deepEqual([...(await loadRuleTokens(store, [])).entries()], []);
      // One account takes the prepared single-account query: the same order.
      assert.deepEqual([...(await loadRuleTokens(store, [y.id])).entries()], [[y.id, [r1.token, r3.token, r0.token]]]);
      assert.deepEqual([...(await loadRuleTokens(store, [z.id])).entries()], [[z.id, []]]);

      // Replacing keeps the new order; the other account is untouched.
      await replaceRuleAssignments(store, x.id, [r1.id, r3.id]);
      const reloaded = await loadRuleTokens(store, [x.id, y.id]);
      assert.deepEqual(reloaded.get(x.id), [r1.token, r3.token]);
      assert.deepEqual(reloaded.get(y.id), [r1.token, r3.token, r0.token]);
    });

    test('insertAccountsInBulk stores every account with its workspace, rules in order and delegations, across several chunks', async (t) => {
      const db = await database(t, dialect.name);
      const store = db.store.db;
      const owner = await msp(store);
      const [a, b] = [await rule(store, owner, 'A'), await rule(store, owner, 'B')];
      const [i1, i2] = [await integration(store, owner.id, '111111111111'), await integration(store, owner.id, '222222222222')];
      const items: BulkAccount[] = Array.from({ length: 1201 }, (_, n) => ({
        account: { token: `acct_${hex()}`, parent_id: owner.id, name: `Bulk ${n}`, contact_email: `bulk-${n}@example.com`, contact_email_key: `bulk-${n}@example.com`, email_domain: null, created_at: NOW },
        workspaceToken: `wrkspc_${hex()}`,
        ruleIds: n % 2 === 0 ? [b.id, a.id] : [a.id],
        integrationIds: n % 3 === 0 ? [i2.id, i1.id] : [],
      }));
      await insertAccountsInBulk(store, items);
      assert.equal(await count(store, 'accounts'), 1202);
      assert.equal(await count(store, 'workspaces'), 1202);
      for (const n of [0, 499, 500, 1200]) {
        const item = items[n] as BulkAccount;
        const row = await findManagedAccount(store, owner.id, item.account.token);
        assert.equal(row?.name, `Bulk ${n}`);
        const id = (row as AccountRow).id;
        assert.deepEqual((await loadRuleTokens(store, [id])).get(id), n % 2 === 0 ? [b.token, a.token] : [a.token]);
        assert.deepEqual((await loadDelegatedTokens(store, [id])).get(id), n % 3 === 0 ? [i2.token, i1.token] : []);
      }
      // A duplicate contact email fails the whole call: nothing of it is kept.
      const again = { ...(items[0] as BulkAccount), account: { ...(items[0] as BulkAccount).account, token: `acct_${hex()}` }, workspaceToken: `wrkspc_${hex()}` };
      const fresh = { ...again, account: { ...again.account, token: `acct_${hex()}`, contact_email_key: 'fresh@example.com' }, workspaceToken: `wrkspc_${hex()}` };
      assert.equal(await violation(() => insertAccountsInBulk(store, [fresh, again])), 'contact_email');
      assert.equal(await count(store, 'accounts'), 1202);
    });

    test('migrating and reading migration status on Postgres survive other schemas being created and dropped meanwhile', { skip: dialect.name !== 'postgres' && 'PostgreSQL schemas' }, async (t) => {
      // Kysely's migrator introspects every schema; parallel test files (or other tenants of one database) dropping
      // theirs made that fail with `schema "…" does not exist` (a CI run lost a test to it).
      const url = process.env.TEST_DATABASE_URL as string;
      const schemas = [0, 1, 2].map(() => `steward_test_${randomBytes(6).toString('hex')}`);
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      let churning = true;
      let churned = 0;
      const churn = (async () => {
        while (churning) {
          const other = `steward_churn_${randomBytes(4).toString('hex')}`;
          await admin.query(`create schema ${other}; create table ${other}.t (id serial primary key, a text, b text, c text)`);
          await admin.query(`drop schema ${other} cascade`);
          churned++;
        }
      })();
      const stores: Store[] = [];
      t.after(async () => {
        churning = false;
        await churn;
        await admin.end();
        for (const store of stores) await store.close();
        for (const schema of schemas) await dropPgSchema(url, schema);
      });
      for (const schema of schemas) {
        const store = await openStore(url, { pgSchema: schema });
        stores.push(store);
        assert.ok((await migrate(store)).length > 0, 'a fresh schema is migrated');
      }
      let checks = 0;
      for (; checks < 300; checks++) {
        const status = await migrationStatus(stores[checks % stores.length] as Store);
        assert.deepEqual(status.pending, []);
      }
      churning = false;
      await churn;
      assert.ok(churned >= 20, `the other schemas did churn meanwhile (${churned} created and dropped during ${checks} checks)`);
    });

    test('rule and delegation lists are read in index order, with no sort step (migration 0005)', { skip: dialect.name !== 'sqlite' && 'SQLite query plans' }, async (t) => {
      const db = await database(t, dialect.name);
      const plan = async (query: { compile(): { sql: string; parameters: readonly unknown[] } }) => {
        const compiled = query.compile();
        const rows = await sql<{ detail: string }>`explain query plan ${sql.raw(compiled.sql.replace(/\?/g, '1'))}`.execute(db.store.db);
        return rows.rows.map((r) => r.detail).join('; ');
      };
      const rules = await plan(
        db.store.db.selectFrom('managed_account_billing_rules as a').innerJoin('billing_rules as r', 'r.id', 'a.billing_rule_id').select(['a.account_id', 'r.token']).where('a.account_id', 'in', [1, 2, 3]).orderBy('a.account_id').orderBy('a.position'),
      );
      const delegations = await plan(
        db.store.db.selectFrom('managed_account_integrations as d').innerJoin('integrations as i', 'i.id', 'd.integration_id').select(['d.account_id', 'i.token']).where('d.account_id', 'in', [1, 2, 3]).orderBy('d.account_id').orderBy('d.id'),
      );
      assert.match(rules, /managed_account_billing_rules_order/);
      assert.doesNotMatch(rules, /TEMP B-TREE/);
      assert.match(delegations, /managed_account_integrations_order/);
      assert.doesNotMatch(delegations, /TEMP B-TREE/);
    });

    test('replaceDelegations keeps surviving delegations in order and appends new ones', async (t) => {
      const db = await database(t, dialect.name);
      const store = db.store.db;
      const owner = await msp(store);
      const [i1, i2, i3] = [await integration(store, owner.id, '1'), await integration(store, owner.id, '2'), await integration(store, owner.id, '3')];
      const x = await child(store, owner.id, 'x@example.com');
      await replaceDelegations(store, x.id, [i2.id, i1.id]);
      assert.deepEqual((await loadDelegatedTokens(store, [x.id])).get(x.id), [i2.token, i1.token]);
      await replaceDelegations(store, x.id, [i3.id, i1.id]);
      assert.deepEqual((await loadDelegatedTokens(store, [x.id])).get(x.id), [i1.token, i3.token]);
      await replaceDelegations(store, x.id, []);
      assert.deepEqual((await loadDelegatedTokens(store, [x.id])).get(x.id), []);
    });
  });
}
