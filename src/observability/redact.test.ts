import { describe, expect, it } from 'vitest';
import { bodyForLog, isSecretKeyName, passesLuhn, redactText } from './redact.js';

const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
const SWITCHYARD_KEY = 'sk-sy-Zq9vT2mXbW4kLrN8pQeYc7HdJfGs1AuVoKiEtBnMxRw'; // sk-sy- + 43 base64url
const OPENAI_PROJECT_KEY = 'sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAB7CD0EF3GH6IJ9KL2MN5OP8QR1ST4UV7WX0YZ';
const OPENAI_LEGACY_KEY = 'sk-' + 'aB3cD4eF5gH6iJ7kL8mN9oP0qR1sT2uV3wX4yZ5aB6cD7eF8'.slice(0, 48);
const ANTHROPIC_KEY = 'sk-ant-api03-' + 'Xy7_Kd-92LmQpRs'.repeat(6);
const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq9\nq2+x/Yz==\n-----END RSA PRIVATE KEY-----';

const emails: [string, string][] = [
  ['write to john.doe@example.com today', 'write to [EMAIL] today'],
  ['plus addressing: john.doe+newsletter@example.com', 'plus addressing: [EMAIL]'],
  ['subdomains ops@mail.eu.example.co.uk.', 'subdomains [EMAIL].'],
  ['Contact: <Jane_Smith-99@sub.example.io>', 'Contact: <[EMAIL]>'],
  ['mailto:a.b@c.org?subject=hi', 'mailto:[EMAIL]?subject=hi'],
  ['two: x@y.dev, 4155552671@txt.att.net', 'two: [EMAIL], [EMAIL]'],
];

const phones: [string, string][] = [
  ['call +14155552671 now', 'call [PHONE] now'],
  ['(415) 555-2671', '[PHONE]'],
  ['tel 415-555-2671.', 'tel [PHONE].'],
  ['415.555.2671 or 415 555 2671', '[PHONE] or [PHONE]'],
  ['1-800-555-1234', '[PHONE]'],
  ['+1 (415) 555-2671', '[PHONE]'],
  ['+1-415-555-2671', '[PHONE]'],
  ['London +44 20 7946 0958', 'London [PHONE]'],
  ['+44 (0)20 7946 0958', '[PHONE]'],
  ['mobile 07946 095 895', 'mobile [PHONE]'],
  ['020 7946 0958', '[PHONE]'],
  ['Paris +33 1 23 45 67 89 / 01 23 45 67 89', 'Paris [PHONE] / [PHONE]'],
  ['phone: "+4930901820"', 'phone: "[PHONE]"'],
  ['mobile +4915112345678 (passes Luhn: still a phone)', 'mobile [PHONE] (passes Luhn: still a phone)'],
];

const cards: [string, string][] = [
  ['card 4111 1111 1111 1111 exp 12/28', 'card [CARD] exp 12/28'],
  ['5500-0000-0000-0004', '[CARD]'],
  ['amex 378282246310005', 'amex [CARD]'],
  ['amex grouped 3782 822463 10005', 'amex grouped [CARD]'],
  ['4111111111111111', '[CARD]'],
  ['discover 6011111111111117, mc 5555555555554444', 'discover [CARD], mc [CARD]'],
  ['13-digit visa 4222222222222', '13-digit visa [CARD]'],
  ['{"number":"4111-1111-1111-1111"}', '{"number":"[CARD]"}'],
];

const secrets: [string, string][] = [
  [`OpenAI ${OPENAI_PROJECT_KEY} end`, 'OpenAI [SECRET] end'],
  [`legacy ${OPENAI_LEGACY_KEY}`, 'legacy [SECRET]'],
  [`switchyard ${SWITCHYARD_KEY}`, 'switchyard [SECRET]'],
  [`anthropic ${ANTHROPIC_KEY}`, 'anthropic [SECRET]'],
  ['aws AKIAIOSFODNN7EXAMPLE and ASIAY34FZKBOKMUTVV7A', 'aws [SECRET] and [SECRET]'],
  ['google key=AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI&q=1', 'google key=[SECRET]&q=1'],
  ['gh ghp_1234567890abcdefghijklmnopqrstuvwxyz', 'gh [SECRET]'],
  ['gho_1234567890abcdefghijklmnopqrstuvwxyz ghs_1234567890ABCDEFGHIJKLMNOPQRSTUVWXYZ', '[SECRET] [SECRET]'],
  ['pat github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEF', 'pat [SECRET]'],
  ['slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx', 'slack [SECRET]'],
  ['slack xoxp-1234-5678-abcdefghij', 'slack [SECRET]'],
  ['stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'stripe [SECRET]'],
  [`jwt ${JWT}`, 'jwt [SECRET]'],
  [`Authorization: Bearer ${JWT}`, 'Authorization: Bearer [SECRET]'],
  ['curl -H "Authorization: Bearer abc.def-123"', 'curl -H "Authorization: Bearer [SECRET]"'],
  ['sent bearer Zm9vYmFyYmF6cXV4MTIzNDU2 to it', 'sent bearer [SECRET] to it'],
  ['Authorization: Basic dXNlcjpwYXNzd29yZA==', 'Authorization: Basic [SECRET]'],
  ['password=hunter2', 'password=[SECRET]'],
  ['DB_PASSWORD=hunter2 next', 'DB_PASSWORD=[SECRET] next'],
  ['{"api_key": "abc123"}', '{"api_key": "[SECRET]"}'],
  ["{'apiKey': 'abc'}", "{'apiKey': '[SECRET]'}"],
  ['X-Api-Key: k-123', 'X-Api-Key: [SECRET]'],
  ['https://api.example.com/v1?access_token=abc123&page=2', 'https://api.example.com/v1?access_token=[SECRET]&page=2'],
  ['client_secret: s3cr3t', 'client_secret: [SECRET]'],
  ['passwd = "p@ss w0rd"', 'passwd = "[SECRET]"'],
  ['"secret":"a\\"b"', '"secret":"[SECRET]"'],
  ['{\\"password\\": \\"x1\\"}', '{\\"password\\": \\"[SECRET]\\"}'],
  ['"token": 12345,', '"token": "[SECRET]",'],
  ['"Authorization": "Bearer abc"', '"Authorization": "Bearer [SECRET]"'],
  ['aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'aws_secret_access_key = [SECRET]'],
  ['postgres://app:pa55word@db.internal:5432/x', 'postgres://app:[SECRET]@db.internal:5432/x'],
  ['redis://:s3cret@cache:6379', 'redis://:[SECRET]@cache:6379'],
  [`key:\n${PEM}\nend`, 'key:\n[SECRET]\nend'],
];

const negatives: string[] = [
  'In 2026 the price was 1234.56 USD, or $1,234,567.89 in total',
  'order 12345678 and 654321, invoice #2847593021',
  'due 2026-12-06, at 2026-12-06T10:30:00Z or 2026-12-06 10:30, 05.12.2026',
  'at 12:30:45 and 09:00',
  'version 1.2.3, v10.20.30, node 20.19.43',
  'request 550e8400-e29b-41d4-a716-446655440000',
  'fails Luhn: 4111111111111112 and 4111 1111 1111 1112',
  'ms timestamp 1733480000000, seconds 1733480000',
  'ip 192.168.100.200 and 10.0.0.1',
  'pi is 3.14159265358979 and 0.30000000000000004',
  'ISBN 978-3-16-148410-0',
  'Call me maybe: 555-2671',
  'The tokenizer counts tokens; max_tokens=100 and token_count = 5',
  '{"max_tokens": 100, "temperature": 0.7, "prompt_tokens": 12}',
  'Secretary of State; a secretive plan; password reset link sent',
  'Bearer of bad news, bearer bonds',
  'scikit uses sk-learn-compatible-estimators; task-1234567890abcdefghij',
  'npm i lodash@4.17.21 @types/node; icon@2x.png; user@localhost',
  'an AKIA-like word AKIAX, header eyJhbGciOi only',
  'password: null, "token": true, "secret": ""',
  'plain words: email phone card key token secret',
  'ref 2026-1234-5678',
];

describe('redactText', () => {
  for (const [kind, table] of [['email', emails], ['phone', phones], ['card', cards], ['secret', secrets]] as const) {
    it.each(table)(`redacts ${kind}: %j`, (input, expected) => {
      expect(redactText(input)).toBe(expected);
    });
  }

  it.each(negatives)('leaves ordinary text alone: %j', (input) => {
    expect(redactText(input)).toBe(input);
  });

  it('is idempotent', () => {
    for (const [input] of [...emails, ...phones, ...cards, ...secrets]) {
      const once = redactText(input);
      expect(redactText(once)).toBe(once);
    }
  });

  it('keeps JSON text valid when run over it', () => {
    const json = JSON.stringify({ password: 12, user: 'a@b.com', card: '4111 1111 1111 1111', nested: { api_key: 'k', note: 'call +14155552671' } });
    expect(JSON.parse(redactText(json))).toEqual({ password: '[SECRET]', user: '[EMAIL]', card: '[CARD]', nested: { api_key: '[SECRET]', note: 'call [PHONE]' } });
  });

  it('checks cards with Luhn', () => {
    expect(passesLuhn('4111111111111111')).toBe(true);
    expect(passesLuhn('378282246310005')).toBe(true);
    expect(passesLuhn('4111111111111112')).toBe(false);
  });

  it('stays linear on 1 MB adversarial inputs, with the right output', () => {
    const MB = 1 << 20;
    const fill = (unit: string) => unit.repeat(Math.ceil(MB / unit.length));
    // Each input re-enters a pattern at every position, or leaves one unterminated.
    const unchanged = ['a', 'a-', '1', '1 ', '1-', '+1 ', 'a@', 'a.', '1.', 'eyJ', 'eyJa.', 'Bearer ', 'password="\n', '"token": "', 'token: [', '-----BEGIN PRIVATE KEY-----', 'a://', 'x:y@', '(415', '4111 '];
    for (const unit of unchanged) {
      const input = fill(unit);
      expect(redactText(input) === input, unit).toBe(true);
    }
    expect(redactText('x@' + fill('1.'))).toBe('x@' + fill('1.'));
    expect(redactText('password="' + fill('a'))).toBe('password="' + fill('a')); // never closed
    expect(redactText('sk-' + 'a'.repeat(MB) + '1')).toBe('[SECRET]');
    expect(redactText(fill('sk-'))).toBe('[SECRET]'); // one long sk- token
    expect(redactText(fill('eyJaaaaaaaa.'))).not.toContain('eyJ'); // a chain of JWT-shaped tokens
    // Real PII spread through a large body: every instance found.
    const chunk = 'lorem ipsum dolor sit amet, mail jane+x@example.com or call (415) 555-2671, card 4111 1111 1111 1111. ';
    const big = chunk.repeat(Math.ceil(MB / chunk.length));
    const out = redactText(big);
    const count = (s: string, token: string) => s.split(token).length - 1;
    const n = Math.ceil(MB / chunk.length);
    expect([count(out, '[EMAIL]'), count(out, '[PHONE]'), count(out, '[CARD]')]).toEqual([n, n, n]);
  });
});

describe('isSecretKeyName', () => {
  it.each(['api_key', 'apiKey', 'x-api-key', 'api-key', 'secret', 'client_secret', 'token', 'access_token', 'refresh_token', 'password', 'DB_PASSWORD', 'passwd', 'Authorization', 'aws_secret_access_key', 'private_key'])('%s is secret', (name) => {
    expect(isSecretKeyName(name)).toBe(true);
  });
  it.each(['max_tokens', 'prompt_tokens', 'total_tokens', 'tokenizer', 'token_type', 'secret_name', 'access_key_id', 'model', 'content', 'user'])('%s is not', (name) => {
    expect(isSecretKeyName(name)).toBe(false);
  });
});

describe('bodyForLog', () => {
  it('redacts an OpenAI chat body value by value and stays valid JSON', () => {
    const body = {
      model: 'gpt-4o-mini',
      max_tokens: 100,
      user: 'jane@example.com',
      messages: [
        { role: 'system', content: 'You are helpful. Today is 2026-12-06.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'My card is 4111 1111 1111 1111, call me at +44 20 7946 0958 "quoted"\n' },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png?v=1.2.3' } },
          ],
        },
        {
          role: 'assistant',
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'pay', arguments: '{"card":"5500-0000-0000-0004","api_key":"abc"}' } }],
        },
      ],
    };
    const logged = bodyForLog(body, 1_000_000);
    expect(JSON.parse(logged)).toEqual({
      model: 'gpt-4o-mini',
      max_tokens: 100,
      user: '[EMAIL]',
      messages: [
        { role: 'system', content: 'You are helpful. Today is 2026-12-06.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'My card is [CARD], call me at [PHONE] "quoted"\n' },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png?v=1.2.3' } },
          ],
        },
        {
          role: 'assistant',
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'pay', arguments: '{"card":"[CARD]","api_key":"[SECRET]"}' } }],
        },
      ],
    });
  });

  it('replaces the values of secret-named keys whole and keeps the names', () => {
    const logged = bodyForLog(
      {
        api_key: 'plain-looking',
        headers: { Authorization: 'Bearer y', 'x-api-key': 'z' },
        password: 123456,
        token: '',
        refresh_token: null,
        credentials: { client_secret: 'abc' },
        max_tokens: 5,
        secret_name: 'keep me',
        logprobs: { content: [{ token: 'Hello', logprob: -0.1, top_logprobs: [{ token: ' Hi', logprob: -2 }] }] },
      },
      10_000,
    );
    expect(JSON.parse(logged)).toEqual({
      api_key: '[SECRET]',
      headers: { Authorization: '[SECRET]', 'x-api-key': '[SECRET]' },
      password: '[SECRET]',
      token: '',
      refresh_token: null,
      credentials: { client_secret: '[SECRET]' },
      max_tokens: 5,
      secret_name: 'keep me',
      logprobs: { content: [{ token: 'Hello', logprob: -0.1, top_logprobs: [{ token: ' Hi', logprob: -2 }] }] },
    });
  });

  it('redacts keys too, without collisions, and card numbers sent as JSON numbers', () => {
    expect(JSON.parse(bodyForLog({ 'a@b.com': 1, 'c@d.com': 2, card: 4111111111111111, ts: 1733480000000, n: 4111111111111112 }, 10_000))).toEqual({
      '[EMAIL]': 1,
      '[EMAIL]#2': 2,
      card: '[CARD]',
      ts: 1733480000000,
      n: 4111111111111112,
    });
  });

  it('serialises a string body as a JSON string, and follows JSON.stringify for the rest', () => {
    expect(bodyForLog('mail a@b.com "now"', 1000)).toBe('"mail [EMAIL] \\"now\\""');
    const shared = { x: 1 };
    expect(JSON.parse(bodyForLog({ a: shared, b: shared, d: new Date('2026-12-06T00:00:00Z'), f: () => 1, u: undefined, arr: [undefined, 'x'] }, 1000))).toEqual({
      a: { x: 1 },
      b: { x: 1 },
      d: '2026-12-06T00:00:00.000Z',
      arr: [null, 'x'],
    });
    expect(JSON.parse(bodyForLog({ ['__proto__']: 'p' }, 1000))).toEqual(JSON.parse('{"__proto__":"p"}'));
  });

  it('never throws: unserialisable values become a placeholder', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const throwingGetter = Object.defineProperty({}, 'boom', { enumerable: true, get: () => { throw new Error('no'); } });
    let deep: unknown = 'x';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    for (const value of [cyclic, { n: 1n }, throwingGetter, { toJSON: () => { throw new Error('no'); } }, undefined, () => 1, deep]) {
      expect(bodyForLog(value, 1000)).toBe('"[unserialisable body]"');
    }
  });

  it('caps to maxBytes with a marker counting the dropped bytes', () => {
    const full = bodyForLog('x'.repeat(100), 1000); // 102 bytes with the quotes
    const cut = bodyForLog('x'.repeat(100), 50);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(50);
    const match = /^(.*)…\[truncated (\d+) bytes\]$/s.exec(cut);
    expect(match).not.toBeNull();
    const [, kept, dropped] = match!;
    expect(full.startsWith(kept!)).toBe(true);
    expect(Buffer.byteLength(kept!) + Number(dropped)).toBe(102);
    expect(Buffer.byteLength(cut)).toBe(50); // fills the budget exactly with ASCII
    expect(bodyForLog('x'.repeat(100), 102)).toBe(full);
  });

  it.each([
    ['emoji', '😀'.repeat(40)],
    ['CJK', '漢字かな'.repeat(40)],
    ['mixed', 'a😀é漢'.repeat(40)],
  ])('cuts %s on a character boundary', (_name, text) => {
    const full = bodyForLog({ text }, Infinity);
    const totalBytes = Buffer.byteLength(full);
    for (let cap = 30; cap < 120; cap++) {
      const cut = bodyForLog({ text }, cap);
      expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(cap);
      const [, kept, dropped] = /^(.*)…\[truncated (\d+) bytes\]$/s.exec(cut)!;
      expect(full.startsWith(kept!)).toBe(true);
      expect(Buffer.from(kept!, 'utf8').toString('utf8')).toBe(kept); // no half character or lone surrogate
      expect(Buffer.byteLength(kept!) + Number(dropped)).toBe(totalBytes);
      // at most one character's worth of the budget is unused
      expect(cap - Buffer.byteLength(cut)).toBeLessThan(4);
    }
  });

  it('returns the marker alone when the cap cannot hold more, and treats a bad cap as 0', () => {
    expect(bodyForLog('hello world', 5)).toBe('…[truncated 13 bytes]');
    expect(bodyForLog('hello', Number.NaN)).toBe('…[truncated 7 bytes]');
    expect(bodyForLog('hello', -1)).toBe('…[truncated 7 bytes]');
  });

  it('redacts before capping, so a cut never leaves part of a secret', () => {
    const cut = bodyForLog({ note: `key ${OPENAI_PROJECT_KEY}` }, 40);
    expect(cut).not.toContain('sk-');
    expect(cut.startsWith('{"note":"key [SECRET]')).toBe(true);
  });
});
