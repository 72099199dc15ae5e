import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { publicOrigin, secretBoxFor, type Config } from './config.ts';
import { checkEncryptionKey } from './domain/key-check.ts';
import { migrate, openStore, type Store } from './store/database.ts';

export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  /** Public origin clients are told about (PUBLIC_URL, else the bound address). */
  origin: string;
  /** The address actually bound, e.g. http://127.0.0.1:8080. */
  listening: string;
  close(): Promise<void>;
}

/** Opens and migrates the database, then listens. The only place, with the CLI, that starts things. */
export async function startServer(config: Config, beforeListen?: (store: Store) => Promise<void>): Promise<RunningServer> {
  const secrets = secretBoxFor(config).ready(); // a missing or bad key stops the start, before anything opens
  const store = await openStore(config.databaseUrl);
  await migrate(store);
  try {
    await checkEncryptionKey(store.db, secrets);
  } catch (error) {
    await store.close();
    throw error;
  }
  if (beforeListen) await beforeListen(store);
  const app = await buildApp({ config, store, secrets });
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await app.close(); // stops accepting, lets in-flight requests finish
      await store.close();
    })());
  const listening = publicOrigin({ ...config, publicUrl: undefined }, port);
  return { app, store, origin: publicOrigin(config, port), listening, close };
}
