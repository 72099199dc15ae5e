import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, describeDatabase, parseConfig, publicOrigin, secretBoxFor } from '../src/config.ts';
import { checkEncryptionKey, WrongEncryptionKeyError } from '../src/domain/key-check.ts';
import { parseEncryptionKey, SecretBox } from '../src/domain/secret-box.ts';
import { startServer } from '../src/server.ts';
import { DIALECTS, freshDatabase } from './helpers/app.ts';

describe('configuration', () => {
  test('defaults, conversion from text, and refusals', () => {
    const config = parseConfig({ port: '9090', logLevel: undefined, publicUrl: '' });
    assert.equal(config.port, 9090);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.databaseUrl, './data/steward.sqlite');
    assert.equal(config.bodyLimitBytes, 1024 * 1024);
    assert.equal(publicOrigin(config), 'http://127.0.0.1:9090');
    assert.equal(publicOrigin(parseConfig({ publicUrl: 'https://steward.example.com/' })), 'https://steward.example.com');
    assert.throws(() => parseConfig({ port: 'eighty' }), ConfigError);
    assert.throws(() => parseConfig({ port: '70000' }), ConfigError);
    assert.throws(() => parseConfig({ publicUrl: 'ftp://x' }), /publicUrl/);
    assert.deepEqual(
      [config.pgPoolMax, config.pgStatementTimeoutMs, config.pgConnectTimeoutMs, config.shutdownTimeoutSeconds, config.migrateOnStart],
      [10, 30_000, 10_000, 30, true],
    );
    assert.throws(() => parseConfig({ pgPoolMax: '0' }), /invalid configuration pgPoolMax/);
    assert.equal(parseConfig({ migrateOnStart: 'false' }).migrateOnStart, false);
    assert.equal(config.pgPreparedStatements, true);
    assert.equal(parseConfig({ pgPreparedStatements: 'false' }).pgPreparedStatements, false);
    assert.throws(() => parseConfig({ pgPreparedStatements: 'off' }, { pgPreparedStatements: 'STEWARD_PG_PREPARED_STATEMENTS' }), /invalid configuration pgPreparedStatements \(STEWARD_PG_PREPARED_STATEMENTS\): "off" must be true or false/);
    assert.throws(() => parseConfig({ migrateOnStart: 'no' }), /invalid configuration migrateOnStart: "no" must be true or false \(or 1 or 0\)$/);
    for (const [name, value] of [
      ['rateLimitMax', '1e3'],
      ['rateLimitWindowSeconds', '0x10'],
      ['oauthTokenTtlSeconds', '1.5'],
      ['port', '80 80'],
      ['pgPoolMax', '1e1'],
      ['pgStatementTimeoutMs', '5s'],
      ['pgConnectTimeoutMs', '-1'],
      ['shutdownTimeoutSeconds', '0x1e'],
      ['shutdownDelaySeconds', '2.5'],
    ] as const) {
      assert.throws(() => parseConfig({ [name]: value }), new RegExp(`invalid configuration ${name}: .* is not a whole number written in digits$`), `${name}=${value}`);
    }
    assert.equal(parseConfig({ rateLimitMax: '1000', oauthTokenTtlSeconds: ' 60 ' }).rateLimitMax, 1000);
  });

  test('a database password is never printed', () => {
    assert.equal(describeDatabase('postgres://app:s3cret@db.internal:5432/steward'), 'postgres://app:***@db.internal:5432/steward');
    assert.equal(describeDatabase('postgresql://app@db/steward'), 'postgresql://app@db/steward');
    assert.equal(describeDatabase('./data/steward.sqlite'), './data/steward.sqlite');
  });
});

describe('encryption at rest (SecretBox and its key)', () => {
  const key = 'a'.repeat(64);

  test('seals so the plaintext does not show, opens only with the same key and purpose', () => {
    const box = new SecretBox(Buffer.from(key, 'hex'));
    const sealed = box.seal('integration:accss_crdntl_1:secret', 'hunter2-password');
    assert.match(sealed, /^v1:[A-Za-z0-9_-]+$/);
    assert.ok(!sealed.includes('hunter2'));
    assert.notEqual(box.seal('integration:accss_crdntl_1:secret', 'hunter2-password'), sealed, 'a fresh IV each time');
    assert.equal(box.open('integration:accss_crdntl_1:secret', sealed), 'hunter2-password');
    assert.throws(() => box.open('integration:accss_crdntl_2:secret', sealed), 'a ciphertext moved to another record does not open');
    assert.throws(() => new SecretBox(Buffer.from('b'.repeat(64), 'hex')).open('integration:accss_crdntl_1:secret', sealed));
    assert.deepEqual(box.openJson('p', box.sealJson('p', { iban: 'DE89370400440532013000' })), { iban: 'DE89370400440532013000' });
  });

  test('keys: 64 hex digits or base64 of 32 bytes; anything else is refused', () => {
    assert.equal(parseEncryptionKey(key)?.length, 32);
    assert.equal(parseEncryptionKey(Buffer.alloc(32, 7).toString('base64'))?.length, 32);
    for (const bad of ['', 'abc', 'g'.repeat(64), 'a'.repeat(63), Buffer.alloc(16).toString('base64')]) assert.equal(parseEncryptionKey(bad), undefined, bad);
    assert.throws(() => secretBoxFor(parseConfig({ encryptionKey: 'short' })).ready(), /encryptionKey/);
  });

  test('PostgreSQL without a key: a clear refusal, raised only when a secret is first needed', () => {
    const box = secretBoxFor(parseConfig({ databaseUrl: 'postgres://postgres@127.0.0.1:5432/test' }));
    assert.throws(() => box.ready(), (e: unknown) => e instanceof ConfigError && /STEWARD_ENCRYPTION_KEY is required with PostgreSQL/.test(e.message));
    assert.equal(secretBoxFor(parseConfig({ databaseUrl: 'postgres://x/y', encryptionKey: key })).ready().open('p', new SecretBox(Buffer.from(key, 'hex')).seal('p', 'x')), 'x');
  });

  test('SQLite without a key: a 0600 key file beside the database, made once and reused', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-key-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const databaseUrl = join(dir, 'nested', 'steward.sqlite');
    const sealed = secretBoxFor(parseConfig({ databaseUrl })).seal('p', 'kept');
    const keyFile = join(dir, 'nested', 'steward.key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.match(readFileSync(keyFile, 'utf8'), /^[0-9a-f]{64}\n$/);
    assert.equal(secretBoxFor(parseConfig({ databaseUrl })).open('p', sealed), 'kept', 'a restart reads the same key');
  });
});

for (const dialect of DIALECTS) {
  describe(`encryption key check [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('the first start records a check value; a different key is refused with a message saying so, before anything listens', async (t) => {
      const db = await freshDatabase(dialect.name);
      t.after(() => db.close());
      const original = 'c'.repeat(64);
      await checkEncryptionKey(db.store.db, new SecretBox(Buffer.from(original, 'hex')));
      await checkEncryptionKey(db.store.db, new SecretBox(Buffer.from(original, 'hex'))); // the same key again: fine
      await assert.rejects(checkEncryptionKey(db.store.db, new SecretBox(Buffer.from('d'.repeat(64), 'hex'))), (e: unknown) => {
        assert.ok(e instanceof WrongEncryptionKeyError);
        assert.match(e.message, /does not match the one this database's secrets were sealed with/);
        return true;
      });
      // The server refuses to start on it.
      const config = parseConfig({ port: 0, logLevel: 'silent', databaseUrl: db.url, encryptionKey: 'd'.repeat(64) });
      await assert.rejects(startServer(config), WrongEncryptionKeyError);
      const server = await startServer({ ...config, encryptionKey: original });
      await server.close();
    });
  });
}
