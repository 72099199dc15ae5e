/**
 * The baseline: a bare node:http server answering one stored ManagedAccount (the body in BASELINE_BODY, a real
 * account's JSON) from memory: no routing, auth, validation or database. What Node.js itself can do here.
 */
import { createServer } from 'node:http';

const body = Buffer.from(process.env.BASELINE_BODY ?? '{}');
const port = Number(process.env.PORT ?? 0);

createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
    response.end(body);
  });
}).listen(port, '127.0.0.1');
