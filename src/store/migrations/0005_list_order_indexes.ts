import type { Kysely, Migration } from 'kysely';

/**
 * Issue 6: indexes in the order lists are read. A managed account's billing rules are read by position and its
 * delegations by id, for one account or a page of them; the primary key and unique pair served the lookup but not the
 * order, so every read sorted (SQLite: "USE TEMP B-TREE FOR ORDER BY"). Each index also covers the id it joins on.
 */
export function listOrderIndexes(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createIndex('managed_account_billing_rules_order')
        .on('managed_account_billing_rules')
        .columns(['account_id', 'position', 'billing_rule_id'])
        .execute();
      await db.schema
        .createIndex('managed_account_integrations_order')
        .on('managed_account_integrations')
        .columns(['account_id', 'id', 'integration_id'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('managed_account_integrations_order').execute();
      await db.schema.dropIndex('managed_account_billing_rules_order').execute();
    },
  };
}
