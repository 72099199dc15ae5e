// Writes the OpenAPI document the server serves to openapi.json (committed; test/contract.test.ts compares them).
import { writeFileSync } from 'node:fs';
import { buildApp } from '../src/app.ts';
import { parseConfig } from '../src/config.ts';
import { migrate, openStore } from '../src/store/database.ts';

const store = await openStore(':memory:');
await migrate(store);
const app = await buildApp({ config: parseConfig({ logLevel: 'silent' }), store });
await app.ready();
writeFileSync(new URL('../openapi.json', import.meta.url), `${JSON.stringify(app.swagger(), null, 2)}\n`);
await app.close();
await store.close();
console.log('wrote openapi.json');
