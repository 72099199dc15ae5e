import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifySql, endOfStageIndex, firstStageViolation, stageOfType } from '../src/domain/billing-rule-stages.ts';
import type { DomainError } from '../src/domain/errors.ts';
import { SQL_PARSE_TIMEOUT_MS } from '../src/domain/sql-parser.ts';
import { toDecimalString } from '../src/domain/decimal.ts';
import { checkDomain, checkEmail, checkName, emailKey, parseDateish } from '../src/domain/validators.ts';

describe('decimal strings (W8)', () => {
  test('numbers come back without float noise and with one fractional digit at least', () => {
    const cases: Array<[number | string, string | null]> = [
      [0.7, '0.7'], [300, '300.0'], [75, '75.0'], [85.5, '85.5'], [0.1 + 0.2, '0.30000000000000004'], [1e21, '1000000000000000000000.0'],
      [1e-7, '0.0000001'], [-2.5, '-2.5'], [0, '0.0'], ['25.50', '25.5'], ['007.10', '7.1'], ['1e3', '1000.0'],
      [Number.NaN, null], [Number.POSITIVE_INFINITY, null], ['abc', null], ['1.2.3', null], ['', null],
    ];
    for (const [input, expected] of cases) assert.equal(toDecimalString(input), expected, String(input));
  });
});

describe('billing-rule stages (SPEC §4.6)', () => {
  test('typed rules map through the one table', () => {
    assert.deepEqual(['charge', 'credit', 'adjustment', 'exclusion'].map((t) => stageOfType(t as 'charge')), [2, 2, 3, 3]);
  });

  test('custom SQL is classified by a real parser', async () => {
    const cases: Array<[string, number]> = [
      ['UPDATE aws\nSET "lineItem/UnblendedCost" = aws."lineItem/UnblendedCost" * 0.905\nWHERE aws."lineItem/LineItemType" != \'Credit\'', 1],
      ['delete from aws where "lineItem/LineItemType" = \'Tax\'', 1],
      ["INSERT INTO costs (amount, service) VALUES (10, 'Support')", 2],
      ["UPDATE costs SET amount = amount * 1.1 WHERE service = 'Amazon EC2'", 3],
      ["DELETE FROM costs WHERE cost_type = 'Tax'", 3],
      ["INSERT INTO costs (amount, service) SELECT SUM(amount) * 0.05, 'MSP fee' FROM costs", 4],
      ["INSERT INTO costs (amount) SELECT CASE WHEN amount > 100 THEN 5 ELSE 1 END FROM costs", 4],
    ];
    for (const [sql, stage] of cases) assert.deepEqual(await classifySql(sql, 'acct-1'), { stage }, sql);
  });

  test('anything else is refused with the reason', async () => {
    const cases: Array<[string, RegExp]> = [
      ['SELECT * FROM costs', /got SELECT/],
      ['DROP TABLE costs', /got DROP/],
      ['UPDATE users SET admin = true', /got UPDATE on users/],
      ['INSERT INTO aws (x) VALUES (1)', /INSERT may only target costs/],
      ['UPDATE aws SET x = 1; DELETE FROM costs', /exactly one statement/],
      ['UPDATE aws SET', /not valid SQL/],
      ['', /not valid SQL|exactly one statement/],
    ];
    for (const [sql, message] of cases) {
      const result = await classifySql(sql, 'acct-1');
      assert.ok('error' in result, sql);
      assert.match(result.error, message);
      assert.match(result.error, /^sql_query /);
    }
  });

  test('statements the parser would chew on for minutes are refused within the time limit, and the parser recovers', async () => {
    const pathological = [
      'UPDATE aws SET x = ' + '('.repeat(30),
      'UPDATE costs SET amount = ' + '(SELECT '.repeat(30) + '1',
      'UPDATE costs SET amount = ' + '(SELECT '.repeat(8) + ')'.repeat(8),
    ];
    for (const sql of pathological) {
      const started = Date.now();
      const result = await classifySql(sql, 'acct-1');
      assert.deepEqual(result, { error: 'sql_query is too complex to check (deeply nested or unbalanced parentheses?); simplify it' }, sql);
      assert.ok(Date.now() - started < SQL_PARSE_TIMEOUT_MS + 5000, `stopped near the limit, took ${Date.now() - started} ms`);
    }
    // Meanwhile and afterwards the event loop is free and ordinary statements still parse.
    const [timer, stage] = await Promise.all([
      new Promise<number>((resolve) => { const t = Date.now(); setTimeout(() => resolve(Date.now() - t), 50); }),
      classifySql('UPDATE aws SET x = ' + '('.repeat(30), 'acct-1').then(() => classifySql("DELETE FROM costs WHERE cost_type = 'Tax'", 'acct-1')),
    ]);
    assert.ok(timer < 1000, `a 50 ms timer fired after ${timer} ms while the parser was busy`);
    assert.deepEqual(stage, { stage: 3 });
  });

  test('nesting deeper than 32 is refused before parsing; the queue takes one parse per account and four in all', async () => {
    const started = Date.now();
    assert.deepEqual(await classifySql('UPDATE aws SET x = ' + '('.repeat(200) + '1', 'acct-1'), {
      error: 'sql_query nests parentheses more than 32 levels deep; simplify it',
    });
    assert.ok(Date.now() - started < 100, 'refused without parsing');
    const slow = 'UPDATE costs SET amount = ' + '(SELECT '.repeat(8) + ')'.repeat(8);
    const busy = (who: string) => ({ status: who === 'account' ? 429 : 503, messages: [new RegExp(who === 'account' ? 'another custom rule of this account' : 'the SQL checker is busy')] });
    const running = ['a', 'b', 'c', 'd'].map((owner) => classifySql(slow, owner));
    await assert.rejects(classifySql('DELETE FROM costs', 'a'), (e: DomainError) => e.status === busy('account').status && busy('account').messages[0]!.test(e.messages[0]!));
    await assert.rejects(classifySql('DELETE FROM costs', 'e'), (e: DomainError) => e.status === busy('server').status && e.headers['retry-after'] === '2');
    for (const result of await Promise.all(running)) assert.ok('error' in result && /too complex/.test(result.error));
    assert.deepEqual(await classifySql('DELETE FROM costs', 'a'), { stage: 3 }, 'free again once its parse ended');
  });

  test('ordering checks and end-of-stage insertion', () => {
    assert.equal(firstStageViolation([1, 1, 2, 3, 3, 4]), null);
    assert.equal(firstStageViolation([]), null);
    assert.equal(firstStageViolation([2, 1]), 1);
    assert.equal(firstStageViolation([1, 3, 2]), 2);
    assert.equal(endOfStageIndex([], 3), 0);
    assert.equal(endOfStageIndex([1, 2, 3, 4], 2), 2);
    assert.equal(endOfStageIndex([1, 2, 2, 4], 3), 3);
    assert.equal(endOfStageIndex([3, 4], 1), 0);
    assert.equal(endOfStageIndex([1, 2], 4), 2);
  });
});

describe('validators', () => {
  test('names (M1) count code points and refuse blank and control characters', () => {
    assert.equal(checkName('name', 'ok'), null);
    assert.equal(checkName('name', '株'.repeat(255)), null);
    assert.match(checkName('name', 'x'.repeat(256)) ?? '', /too long \(maximum is 255 characters\)/);
    assert.match(checkName('name', ' \t ') ?? '', /blank/);
    assert.match(checkName('name', 'a\u0000b') ?? '', /control/);
    assert.match(checkName('name', 'a\u0085b') ?? '', /control/);
    for (const invisible of ['\u200b\u200b', '\u200d', '\u3164', '\u2800', '\ufe0f', '\u0301', '\u00a0 ']) {
      assert.match(checkName('name', invisible) ?? '', /blank/, JSON.stringify(invisible));
    }
    for (const layout of ['abc\u202edef', 'a\u2028b', 'a\u2066b']) assert.match(checkName('name', layout) ?? '', /text-direction/, JSON.stringify(layout));
    // Joiners inside real text are fine: emoji sequences, Persian zero-width non-joiner, combining accents.
    for (const ok of ['👨‍👩‍👧 Family Co', 'می\u200cخواهم', 'Jose\u0301 Ltd']) assert.equal(checkName('name', ok), null, ok);
  });

  test('emails (M2)', () => {
    for (const ok of ['admin+contoso@example.co.uk', 'first.last@sub.example.com', 'a-b@xn--bcher-kva.example', 'user@bücher.example']) assert.equal(checkEmail('contact_email', ok), null, ok);
    for (const bad of ['admin@@example.co.uk', 'admin', 'admin@', '@example.com', 'a b@example.com', 'admin@localhost', 'admin@1.2.3.4', 'a@b.c\n']) {
      assert.match(checkEmail('contact_email', bad) ?? '', /^contact_email /, bad);
    }
    for (const hidden of ['inv1@exam\u00adple.com', 'admin@ex\u200bample.com', 'ad\u200bmin@example.com', 'admin@example\uff0ecom']) {
      assert.match(checkEmail('contact_email', hidden) ?? '', /^contact_email /, JSON.stringify(hidden));
    }
    assert.equal(emailKey('Admin@Bücher.Example'), emailKey('admin@xn--bcher-kva.example'));
  });

  test('domains (M3)', () => {
    assert.deepEqual(checkDomain('email_domain', 'Acme.Example.COM'), { key: 'acme.example.com' });
    assert.deepEqual(checkDomain('email_domain', 'bücher.example'), { key: 'xn--bcher-kva.example' });
    assert.deepEqual(checkDomain('email_domain', 'xn--bcher-kva.example'), { key: 'xn--bcher-kva.example' });
    assert.deepEqual(checkDomain('email_domain', 'acme.github.io'), { key: 'acme.github.io' });
    for (const bad of ['co.uk', 'com', 'github.io', 's3.amazonaws.com', 's\u00adhy1.example.com', 'fw1\u3002example\uff0ecom', 'a\u200b.example.com',
      'http://a.com', 'a.com:80', 'a@b.com', 'a.com/x', 'localhost', '10.0.0.1', 'a_b.com', '-a.com', 'a..com']) {
      assert.ok('error' in checkDomain('email_domain', bad), bad);
    }
  });

  test('dates', () => {
    assert.ok(parseDateish('2024-02-29'));
    assert.ok(parseDateish('2024-06-28T00:00:00Z'));
    assert.equal(parseDateish('2023-02-29'), null);
    assert.equal(parseDateish('2024-13-01'), null);
    assert.equal(parseDateish('01/02/2024'), null);
  });
});
