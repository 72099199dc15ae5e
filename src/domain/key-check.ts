import type { Kysely } from 'kysely';
import { getMeta, putMetaIfAbsent } from '../store/meta.store.ts';
import type { Database } from '../store/schema.ts';
import type { SecretBox } from './secret-box.ts';

const NAME = 'encryption_key_check';
const PURPOSE = 'steward:key-check';
const PLAINTEXT = 'Steward encryption key check';

export class WrongEncryptionKeyError extends Error {}

/**
 * The first start seals a known value with the configured key and stores it; every later start (and CLI command)
 * opens it, so a wrong or missing key stops Steward with a clear message instead of surfacing as 500s (or as
 * secrets sealed under two keys) later.
 */
export async function checkEncryptionKey(db: Kysely<Database>, box: SecretBox): Promise<void> {
  const stored = (await getMeta(db, NAME)) ?? (await putMetaIfAbsent(db, NAME, box.seal(PURPOSE, PLAINTEXT)));
  let opened: string | undefined;
  try {
    opened = box.open(PURPOSE, stored);
  } catch {
    opened = undefined;
  }
  if (opened !== PLAINTEXT) {
    throw new WrongEncryptionKeyError(
      "the encryption key does not match the one this database's secrets were sealed with. Use the original key: " +
        'STEWARD_ENCRYPTION_KEY, or for SQLite the steward.key file that was beside the database (a new one is made when it is missing)',
    );
  }
}
