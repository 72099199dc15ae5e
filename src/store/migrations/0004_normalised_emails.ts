import type { Kysely, Migration } from 'kysely';

/**
 * Issue 5 (M10 across processes): the contact-email comparison key is now also in Unicode NFC, so `josé@` typed
 * precomposed and `jose\u0301@` (e + combining accent) are one address to the unique index. Keys written before
 * were lower-cased only; the NFC form of an old key is exactly the new key of its address. Where two existing
 * accounts turn out to share an address (one key is the other's NFC form), the one not in NFC keeps its old key:
 * nothing is lost, and no new account can take the address in either form.
 */
export function normalisedEmails(): Migration {
  return {
    async up(untyped: Kysely<unknown>) {
      const db = untyped as Kysely<{ accounts: { id: number; contact_email_key: string | null } }>;
      const rows = await db.selectFrom('accounts').select(['id', 'contact_email_key']).where('contact_email_key', 'is not', null).orderBy('id').execute();
      const taken = new Set(rows.map((r) => r.contact_email_key as string));
      for (const row of rows) {
        const key = row.contact_email_key as string;
        const normalised = key.normalize('NFC');
        if (normalised === key || taken.has(normalised)) continue;
        await db.updateTable('accounts').set({ contact_email_key: normalised }).where('id', '=', row.id).execute();
        taken.add(normalised);
      }
    },
  };
}
