import type { Kysely } from 'kysely';
import type { Config } from '../../config.ts';
import type { SecretBox } from '../../domain/secret-box.ts';
import type { Database } from '../../store/schema.ts';

/** What every route plugin is given by buildApp. */
export interface RouteDeps {
  db: Kysely<Database>;
  /** Public origin for absolute links (pagination). */
  origin: () => string;
  config: Config;
  /** Encryption at rest for secrets (integration passwords, banking secure data). */
  secrets: SecretBox;
}
