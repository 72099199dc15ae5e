import { existsSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where `npm run build:console` (Vite) writes the console; `npm start` and `npm test` build it first. */
export const CONSOLE_DIST = fileURLToPath(new URL('../../console/dist/', import.meta.url));

/** The console's own routes, as the router names them: for the hooks that treat the console apart from the API. */
export function isConsoleRoute(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  return route === '/console' || route === '/console/*';
}

/**
 * The web console at /console: static files only. It signs in and works through the public `/v2` API and
 * `/oauth/token` with a bearer token like any other client, so it has no route of its own to protect.
 * Files are looked up when asked for, so a rebuild while the server runs is served at once. Hashed assets may be
 * cached for good; index.html is revalidated. A path that names a file (it has an extension) is that file or a
 * 404; any other path under /console is a page of the single-page app and gets index.html.
 */
export async function registerConsole(app: FastifyInstance, root = CONSOLE_DIST): Promise<void> {
  await app.register(fastifyStatic, {
    root,
    serve: false,
    index: false,
    cacheControl: false,
    dotfiles: 'deny',
    setHeaders: (response, path) => {
      const immutable = relative(root, path).split(sep)[0] === 'assets';
      response.setHeader('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const page = (reply: FastifyReply) => {
    if (!existsSync(join(root, 'index.html'))) {
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The console is not built. Run `npm run build:console` (npm start and npm test build it), then reload.\n');
    }
    return reply.header('cache-control', 'no-cache').sendFile('index.html');
  };
  // Not part of the API: kept out of the served OpenAPI document.
  const hidden = { schema: { hide: true } };
  app.get('/console', hidden, async (_request, reply) => page(reply));
  app.get('/console/*', hidden, async (request, reply) => {
    const path = (request.params as { '*': string })['*'];
    if (!/\.[a-z0-9]+$/i.test(path)) return page(reply);
    // A missing file is a 404, not the app's page: a stale index.html would otherwise load HTML as a script.
    const safe = !path.split('/').some((segment) => segment === '..' || segment.startsWith('.')) && !/[\\\0]/.test(path);
    const file = join(root, path);
    if (!safe || !existsSync(file) || !statSync(file).isFile()) {
      return reply.code(404).send({ errors: [`No console file at /console/${path.slice(0, 200)}`] });
    }
    return reply.sendFile(path);
  });
}
