import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../database.ts';
import { idColumn } from './columns.ts';

export function initial(dialect: Dialect): Migration {
  const { type: idType, build: id } = idColumn(dialect);

  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('accounts')
        .addColumn('id', idType, id)
        .addColumn('token', 'text', (c) => c.notNull().unique())
        .addColumn('parent_id', 'integer', (c) => c.references('accounts.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('contact_email', 'text')
        .addColumn('contact_email_key', 'text')
        .addColumn('email_domain', 'text')
        .addColumn('is_msp', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('accounts_contact_email_key').unique().on('accounts').column('contact_email_key').execute();
      await db.schema.createIndex('accounts_parent_id_id').on('accounts').columns(['parent_id', 'id']).execute();

      await db.schema
        .createTable('claimed_domains')
        .addColumn('domain_key', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('source', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('claimed_domains_account_id').on('claimed_domains').column('account_id').execute();

      await db.schema
        .createTable('integrations')
        .addColumn('id', idType, id)
        .addColumn('token', 'text', (c) => c.notNull().unique())
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('account_identifier', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('integrations_account_id_id').on('integrations').columns(['account_id', 'id']).execute();

      await db.schema
        .createTable('billing_rules')
        .addColumn('id', idType, id)
        .addColumn('token', 'text', (c) => c.notNull().unique())
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('stage', 'integer', (c) => c.notNull())
        .addColumn('apply_to_all', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('charge_type', 'text')
        .addColumn('percentage', 'text')
        .addColumn('service', 'text')
        .addColumn('category', 'text')
        .addColumn('sub_category', 'text')
        .addColumn('amount', 'text')
        .addColumn('start_date', 'text')
        .addColumn('end_date', 'text')
        .addColumn('start_period', 'text')
        .addColumn('sql_query', 'text')
        .addColumn('created_by_token', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('billing_rules_account_id_id').on('billing_rules').columns(['account_id', 'id']).execute();

      await db.schema
        .createTable('managed_account_billing_rules')
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('billing_rule_id', 'integer', (c) => c.notNull().references('billing_rules.id').onDelete('cascade'))
        .addColumn('position', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('managed_account_billing_rules_pk', ['account_id', 'billing_rule_id'])
        .execute();
      await db.schema.createIndex('managed_account_billing_rules_rule').on('managed_account_billing_rules').column('billing_rule_id').execute();

      await db.schema
        .createTable('managed_account_integrations')
        .addColumn('id', idType, id)
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('integration_id', 'integer', (c) => c.notNull().references('integrations.id').onDelete('cascade'))
        .execute();
      await db.schema
        .createIndex('managed_account_integrations_pair')
        .unique()
        .on('managed_account_integrations')
        .columns(['account_id', 'integration_id'])
        .execute();
      await db.schema.createIndex('managed_account_integrations_integration').on('managed_account_integrations').column('integration_id').execute();

      await db.schema
        .createTable('api_tokens')
        .addColumn('id', idType, id)
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('revoked_at', 'text')
        .execute();
    },
  };
}
