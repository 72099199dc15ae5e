import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

type Db = Kysely<Database>;

/** Installation-wide facts (not tenant data), e.g. the encryption-key check value. */
export async function getMeta(db: Db, name: string): Promise<string | undefined> {
  return (await db.selectFrom('steward_meta').select('value').where('name', '=', name).executeTakeFirst())?.value;
}

/** Stores `value` unless `name` already has one (then the existing value wins); returns the value stored. */
export async function putMetaIfAbsent(db: Db, name: string, value: string): Promise<string> {
  await db.insertInto('steward_meta').values({ name, value }).onConflict((oc) => oc.column('name').doNothing()).execute();
  return (await getMeta(db, name)) as string;
}
