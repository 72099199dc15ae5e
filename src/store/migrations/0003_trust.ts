import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../database.ts';
import { idColumn } from './columns.ts';

/**
 * Issue 4: OAuth clients and the tokens they are issued, token last use, the audit log, and idempotency keys.
 */
export function trust(dialect: Dialect): Migration {
  const { type: idType, build: id } = idColumn(dialect);

  return {
    async up(db: Kysely<unknown>) {
      // A6: OAuth 2.0 clients (client credentials grant). The secret is stored only as a password hash (scrypt).
      await db.schema
        .createTable('oauth_clients')
        .addColumn('id', idType, id)
        .addColumn('client_id', 'text', (c) => c.notNull().unique())
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema.createIndex('oauth_clients_account_id_id').on('oauth_clients').columns(['account_id', 'id']).execute();

      // Tokens issued through /oauth/token name their client; null for CLI-made tokens.
      await db.schema
        .alterTable('api_tokens')
        .addColumn('oauth_client_id', 'integer', (c) => c.references('oauth_clients.id').onDelete('cascade'))
        .execute();
      await db.schema.alterTable('api_tokens').addColumn('last_used_at', 'text').execute();
      await db.schema.createIndex('api_tokens_account_id_id').on('api_tokens').columns(['account_id', 'id']).execute();
      await db.schema.createIndex('api_tokens_oauth_client_id').on('api_tokens').column('oauth_client_id').execute();

      // Audit log: one row per change, written in the change's transaction. The actor is copied in, not referenced,
      // so the record outlives the token or client that acted.
      await db.schema
        .createTable('audit_logs')
        .addColumn('id', idType, id)
        .addColumn('token', 'text', (c) => c.notNull().unique())
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('object_type', 'text', (c) => c.notNull())
        .addColumn('object_token', 'text')
        .addColumn('object_title', 'text')
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('actor_token_id', 'integer')
        .addColumn('actor_name', 'text')
        .addColumn('actor_oauth_client_id', 'text')
        /** JSON objects: {field: [old, new]} and {field: value}; secrets are filtered before they get here. */
        .addColumn('changed_values', 'text', (c) => c.notNull())
        .addColumn('unchanged_values', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_logs_account_id_id').on('audit_logs').columns(['account_id', 'id']).execute();
      await db.schema.createIndex('audit_logs_account_object').on('audit_logs').columns(['account_id', 'object_token']).execute();

      // R2: idempotency keys per token. status null = the first request is still running; its process refreshes
      // heartbeat_at meanwhile, so a retry takes the claim over only when that process is gone. created_at starts
      // the 24-hour replay window.
      await db.schema
        .createTable('idempotency_keys')
        .addColumn('id', idType, id)
        .addColumn('api_token_id', 'integer', (c) => c.notNull().references('api_tokens.id').onDelete('cascade'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('request_hash', 'text', (c) => c.notNull())
        .addColumn('status', 'integer')
        .addColumn('response_body', 'text')
        .addColumn('response_headers', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('heartbeat_at', 'text')
        .addUniqueConstraint('idempotency_keys_token_key', ['api_token_id', 'key'])
        .execute();
      await db.schema.createIndex('idempotency_keys_created_at').on('idempotency_keys').column('created_at').execute();
    },
  };
}
