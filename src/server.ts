import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { postgresSettingsOf, publicOrigin, secretBoxFor, type Config } from './config.ts';
import { checkEncryptionKey } from './domain/key-check.ts';
import type { Lifecycle } from './http/operations.ts';
import type { SecretBox } from './domain/secret-box.ts';
import { migrate, migrationStatus, openStore, type Store } from './store/database.ts';

export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  /** Public origin clients are told about (PUBLIC_URL, else the bound address). */
  origin: string;
  /** The address actually bound, e.g. http://127.0.0.1:8080. */
  listening: string;
  /** Migrations this start applied (empty when the database was current, or when config.migrateOnStart is off). */
  migrated: string[];
  /** `blocked` says why the API is not served yet (serve --no-migrate, migrations pending); null once it is. */
  lifecycle: Lifecycle;
  /**
   * Graceful shutdown: /readyz turns 503 (and the server keeps serving for config.shutdownDelaySeconds), the
   * listener stops accepting, requests already received run to their normal answer (each then closes its
   * connection), and the pool closes. After config.shutdownTimeoutSeconds the
   * connections still open are cut and `false` is returned.
   */
  close(): Promise<boolean>;
}

/** Opens and migrates the database, then listens. The only place, with the CLI, that starts things. */
export async function startServer(config: Config, beforeListen?: (store: Store) => Promise<void>): Promise<RunningServer> {
  const secrets = secretBoxFor(config).ready(); // a missing or bad key stops the start, before anything opens
  const store = await openStore(config.databaseUrl, { postgres: postgresSettingsOf(config) });
  const lifecycle: Lifecycle = { draining: false, blocked: null };
  let migrated: string[] = [];
  try {
    if (config.migrateOnStart) migrated = await migrate(store);
    const { pending } = await migrationStatus(store);
    if (pending.length === 0) {
      await checkEncryptionKey(store.db, secrets);
      if (beforeListen) await beforeListen(store);
    } else {
      lifecycle.blocked = waitingFor(pending);
    }
  } catch (error) {
    await store.close();
    throw error;
  }
  const app = await buildApp({ config, store, secrets, lifecycle, processMetrics: true });
  await app.listen({ port: config.port, host: config.host });
  let stopWatching = () => {};
  if (lifecycle.blocked) {
    app.log.warn({ reason: lifecycle.blocked }, 'not serving the API until the database is migrated');
    stopWatching = watchForMigrations(app, store, secrets, lifecycle);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  let closing: Promise<boolean> | undefined;
  const close = () =>
    (closing ??= (async () => {
      lifecycle.draining = true;
      stopWatching();
      if (config.shutdownDelaySeconds > 0) {
        app.log.info({ shutdownDelaySeconds: config.shutdownDelaySeconds }, '/readyz now answers 503; still serving until the delay ends');
        await new Promise((resolve) => setTimeout(resolve, config.shutdownDelaySeconds * 1000));
      }
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), config.shutdownTimeoutSeconds * 1000);
        timer.unref();
      });
      // Fastify's close stops the listener, closes idle connections and waits for requests in flight.
      const finished = await Promise.race([app.close().then(() => true as const), deadline]);
      clearTimeout(timer);
      if (!finished) {
        app.log.warn({ shutdownTimeoutSeconds: config.shutdownTimeoutSeconds }, 'requests still running at the shutdown deadline; closing their connections');
        app.server.closeAllConnections();
        // The pool would wait for the cut requests' statements; exiting closes their connections, and the database
        // rolls their transactions back.
        void store.close().catch(() => {});
        return false;
      }
      await store.close();
      return true;
    })());
  const listening = publicOrigin({ ...config, publicUrl: undefined }, port);
  return { app, store, origin: publicOrigin(config, port), listening, migrated, lifecycle, close };
}

const waitingFor = (pending: string[]) => `migrations not applied: ${pending.join(', ')} (run \`steward migrate\`)`;

/**
 * serve --no-migrate on a database another process has yet to migrate: check every second; once the migrations are
 * in, check the encryption key as a normal start does and open the API.
 */
function watchForMigrations(app: FastifyInstance, store: Store, secrets: SecretBox, lifecycle: Lifecycle): () => void {
  const timer = setInterval(() => {
    void (async () => {
      const { pending } = await migrationStatus(store);
      if (pending.length > 0) {
        lifecycle.blocked = waitingFor(pending);
        return;
      }
      clearInterval(timer);
      try {
        await checkEncryptionKey(store.db, secrets);
        lifecycle.blocked = null;
        app.log.info('the database is migrated: serving the API');
      } catch (error) {
        lifecycle.blocked = `cannot serve: ${(error as Error).message}`;
        app.log.error({ err: error }, 'the database is migrated, but this instance cannot serve it');
      }
    })().catch((error: unknown) => app.log.warn({ err: error }, 'could not read the migration status; retrying'));
  }, 1000);
  timer.unref();
  return () => clearInterval(timer);
}
