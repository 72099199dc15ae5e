import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { postgresSettingsOf, publicOrigin, secretBoxFor, type Config } from './config.ts';
import { checkEncryptionKey } from './domain/key-check.ts';
import type { Lifecycle } from './http/operations.ts';
import { migrate, openStore, type Store } from './store/database.ts';

export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  /** Public origin clients are told about (PUBLIC_URL, else the bound address). */
  origin: string;
  /** The address actually bound, e.g. http://127.0.0.1:8080. */
  listening: string;
  /** Migrations this start applied (empty when the database was current, or when config.migrateOnStart is off). */
  migrated: string[];
  /**
   * Graceful shutdown: /readyz turns 503, the listener stops accepting, requests already received run to their
   * normal answer (each then closes its connection), and the pool closes. After config.shutdownTimeoutSeconds the
   * connections still open are cut and `false` is returned.
   */
  close(): Promise<boolean>;
}

/** Opens and migrates the database, then listens. The only place, with the CLI, that starts things. */
export async function startServer(config: Config, beforeListen?: (store: Store) => Promise<void>): Promise<RunningServer> {
  const secrets = secretBoxFor(config).ready(); // a missing or bad key stops the start, before anything opens
  const store = await openStore(config.databaseUrl, { postgres: postgresSettingsOf(config) });
  let migrated: string[] = [];
  try {
    if (config.migrateOnStart) migrated = await migrate(store);
    await checkEncryptionKey(store.db, secrets);
    if (beforeListen) await beforeListen(store);
  } catch (error) {
    await store.close();
    throw error;
  }
  const lifecycle: Lifecycle = { draining: false };
  const app = await buildApp({ config, store, secrets, lifecycle, processMetrics: true });
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  let closing: Promise<boolean> | undefined;
  const close = () =>
    (closing ??= (async () => {
      lifecycle.draining = true;
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
      }
      await store.close();
      return finished;
    })());
  const listening = publicOrigin({ ...config, publicUrl: undefined }, port);
  return { app, store, origin: publicOrigin(config, port), listening, migrated, close };
}
