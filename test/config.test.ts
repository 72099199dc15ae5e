import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, describeDatabase, parseConfig, publicOrigin } from '../src/config.ts';

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
  });

  test('a database password is never printed', () => {
    assert.equal(describeDatabase('postgres://app:s3cret@db.internal:5432/steward'), 'postgres://app:***@db.internal:5432/steward');
    assert.equal(describeDatabase('postgresql://app@db/steward'), 'postgresql://app@db/steward');
    assert.equal(describeDatabase('./data/steward.sqlite'), './data/steward.sqlite');
  });
});
