import { Option } from 'commander';
import { parseConfig, secretBoxFor } from '../config.ts';
import { checkEncryptionKey } from '../domain/key-check.ts';
import type { SecretBox } from '../domain/secret-box.ts';
import { migrate, openStore, type Store } from '../store/database.ts';

export const databaseOption = () =>
  new Option('--database <path-or-url>', 'SQLite file path or postgres:// URL').env('DATABASE_URL').default('./data/steward.sqlite');

/** Prints one JSON object (with --json) or a short human summary; the resource is the API's shape. */
export function output(json: boolean, resource: object, human: string): void {
  process.stdout.write(json ? `${JSON.stringify(resource)}\n` : `${human}\n`);
}

export async function withStore<T>(database: string, run: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(parseConfig({ databaseUrl: database }).databaseUrl);
  try {
    await migrate(store);
    return await run(store);
  } finally {
    await store.close();
  }
}

/**
 * Encryption for CLI commands that read or write secrets: STEWARD_ENCRYPTION_KEY, or the key file beside a SQLite
 * database; checked against the database's key-check value first, as the server does at start.
 */
export async function cliSecrets(store: Store, database: string): Promise<SecretBox> {
  const box = secretBoxFor(parseConfig({ databaseUrl: database, encryptionKey: process.env.STEWARD_ENCRYPTION_KEY }));
  await checkEncryptionKey(store.db, box);
  return box;
}
