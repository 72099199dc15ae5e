import { randomBytes } from 'node:crypto';
import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../database.ts';
import { idColumn } from './columns.ts';

/**
 * Issue 3: what a managed account refers to. Workspaces (every account has a default one), integration
 * settings and encrypted secrets, per-delegation scoping, SSO connections, billing profiles with their nested
 * records, and MSP invoicing on accounts. JSON-valued columns are text in both dialects.
 */
export function references(dialect: Dialect): Migration {
  const { type: idType, build: id } = idColumn(dialect);

  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('workspaces')
        .addColumn('id', idType, id)
        .addColumn('token', 'text', (c) => c.notNull().unique())
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('enable_currency_conversion', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('currency', 'text', (c) => c.notNull().defaultTo('USD'))
        .addColumn('exchange_rate_date', 'text', (c) => c.notNull().defaultTo('daily_rate'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('workspaces_account_id_id').on('workspaces').columns(['account_id', 'id']).execute();

      await db.schema
        .createTable('integration_workspaces')
        .addColumn('integration_id', 'integer', (c) => c.notNull().references('integrations.id').onDelete('cascade'))
        .addColumn('workspace_id', 'integer', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('integration_workspaces_pk', ['integration_id', 'workspace_id'])
        .execute();
      await db.schema.createIndex('integration_workspaces_workspace').on('integration_workspaces').column('workspace_id').execute();

      // Non-secret creation fields as JSON (e.g. GCP project_id); secrets as a SecretBox ciphertext, never plain.
      await db.schema.alterTable('integrations').addColumn('settings', 'text', (c) => c.notNull().defaultTo('{}')).execute();
      await db.schema.alterTable('integrations').addColumn('secret', 'text').execute();
      await db.schema.alterTable('integrations').addColumn('last_updated', 'text').execute();

      // SPEC §2.6: which provider accounts a delegation imports; JSON array, [] = everything.
      await db.schema
        .alterTable('managed_account_integrations')
        .addColumn('provider_account_identifiers', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();

      // M11: MSP invoicing switch (MSP accounts) and the invoicing fields (managed accounts).
      await db.schema.alterTable('accounts').addColumn('msp_invoicing', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('accounts').addColumn('payment_terms_days', 'integer').execute();
      await db.schema.alterTable('accounts').addColumn('include_managed_account_integrations', 'integer').execute();

      await db.schema
        .createTable('sso_connections')
        .addColumn('id', idType, id)
        .addColumn('account_id', 'integer', (c) => c.notNull().unique().references('accounts.id').onDelete('cascade'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('saml_metadata_url', 'text', (c) => c.notNull())
        /** JSON array of the extra domains as sent (de-duplicated); each is also a claimed_domains row, source 'sso'. */
        .addColumn('additional_domains', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('billing_profiles')
        .addColumn('id', idType, id)
        .addColumn('token', 'text', (c) => c.notNull().unique())
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('nickname', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('billing_profiles_account_id_id').on('billing_profiles').columns(['account_id', 'id']).execute();

      // A managed account names at most one billing profile of its parent; the profile cannot vanish under it (M9).
      await db.schema
        .alterTable('accounts')
        .addColumn('msp_billing_profile_id', 'integer', (c) => c.references('billing_profiles.id').onDelete('restrict'))
        .execute();

      // Billing and business information belong either to a billing profile or to a managed account (exactly one).
      for (const table of ['billing_informations', 'business_informations'] as const) {
        let t = db.schema
          .createTable(table)
          .addColumn('id', idType, id)
          .addColumn('token', 'text', (c) => c.notNull().unique())
          .addColumn('billing_profile_id', 'integer', (c) => c.unique().references('billing_profiles.id').onDelete('cascade'))
          .addColumn('account_id', 'integer', (c) => c.unique().references('accounts.id').onDelete('cascade'));
        if (table === 'billing_informations') {
          for (const column of ['company_name', 'country_code', 'address_line_1', 'address_line_2', 'city', 'state', 'postal_code']) {
            t = t.addColumn(column, 'text');
          }
          t = t.addColumn('billing_email', 'text', (c) => c.notNull().defaultTo('[]'));
        } else {
          t = t.addColumn('custom_fields', 'text', (c) => c.notNull().defaultTo('[]'));
        }
        await t.addCheckConstraint(`${table}_one_owner`, sql`(billing_profile_id is null) <> (account_id is null)`).execute();
      }

      await db.schema
        .createTable('banking_informations')
        .addColumn('id', idType, id)
        .addColumn('token', 'text', (c) => c.notNull().unique())
        .addColumn('billing_profile_id', 'integer', (c) => c.notNull().unique().references('billing_profiles.id').onDelete('cascade'))
        .addColumn('bank_name', 'text')
        .addColumn('beneficiary_name', 'text')
        .addColumn('tax_id', 'text')
        /** SecretBox ciphertext of {account_number, routing_number, iban, swift_bic}, or null when none was sent. */
        .addColumn('secure_data', 'text')
        .execute();

      await db.schema
        .createTable('invoice_adjustments')
        .addColumn('id', idType, id)
        .addColumn('token', 'text', (c) => c.notNull().unique())
        .addColumn('billing_profile_id', 'integer', (c) => c.notNull().unique().references('billing_profiles.id').onDelete('cascade'))
        /** JSON array of {name, adjustment_type, calculation_type, amount (decimal string)}. */
        .addColumn('adjustment_items', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();

      // Facts about the installation itself, e.g. a value sealed with the encryption key, so a wrong key is noticed.
      await db.schema
        .createTable('steward_meta')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();

      // Every account made before this migration gets its default workspace, fed by its own integrations.
      const accounts = await sql<{ id: number; created_at: string }>`select id, created_at from accounts order by id`.execute(db);
      for (const account of accounts.rows) {
        const token = `wrkspc_${randomBytes(8).toString('hex')}`;
        await sql`insert into workspaces (token, account_id, name, created_at) values (${token}, ${account.id}, 'Default', ${account.created_at})`.execute(db);
      }
      await sql`insert into integration_workspaces (integration_id, workspace_id)
                select i.id, w.id from integrations i join workspaces w on w.account_id = i.account_id`.execute(db);
    },
  };
}
