import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where `npm run build:console` (Vite) writes the console; `npm start` and `npm test` build it first. */
export const CONSOLE_DIST = fileURLToPath(new URL('../../console/dist/', import.meta.url));

/**
 * The web console at /console: static files only. It signs in and works through the public `/v2` API and
 * `/oauth/token` with a bearer token like any other client, so it has no route of its own to protect.
 * Hashed assets may be cached for good; index.html is revalidated so a new build is picked up at once.
 * Any other path under /console is a page of the single-page app and gets index.html.
 */
export async function registerConsole(app: FastifyInstance, root = CONSOLE_DIST): Promise<void> {
  if (!existsSync(`${root}/index.html`)) {
    const notBuilt = 'The console is not built. Run `npm run build:console` (npm start and npm test build it), then reload.\n';
    app.get('/console', async (_request, reply) => reply.code(503).type('text/plain; charset=utf-8').send(notBuilt));
    app.get('/console/*', async (_request, reply) => reply.code(503).type('text/plain; charset=utf-8').send(notBuilt));
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/console/',
    index: false,
    wildcard: false,
    redirect: false,
    cacheControl: false,
    setHeaders: (response, path) => {
      response.setHeader('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const page = (reply: FastifyReply) => reply.header('cache-control', 'no-cache').sendFile('index.html');
  app.get('/console', async (_request, reply) => page(reply));
  app.get('/console/*', async (request, reply) => {
    const path = (request.params as { '*': string })['*'];
    // A missing asset is a 404, not the app's page: a stale index.html would otherwise load HTML as a script.
    if (path.startsWith('assets/') || /\.[a-z0-9]+$/i.test(path)) {
      return reply.code(404).send({ errors: [`No console file at /console/${path}`] });
    }
    return page(reply);
  });
}
