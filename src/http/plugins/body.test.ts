import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { MAX_JSON_DEPTH, parseJsonBody } from './body.js';

function errorOf(body: Buffer): GatewayError {
  try {
    parseJsonBody(body);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected a GatewayError');
}

describe('parseJsonBody', () => {
  it('parses a JSON body, non-ASCII text included', () => {
    const value = { model: 'mock', messages: [{ role: 'user', content: 'Ça va ? こんにちは 👋' }] };
    expect(parseJsonBody(Buffer.from(JSON.stringify(value), 'utf8'))).toEqual(value);
  });

  it('parses any JSON value (the route decides what it accepts)', () => {
    expect(parseJsonBody(Buffer.from('[1,2]'))).toEqual([1, 2]);
    expect(parseJsonBody(Buffer.from(' null '))).toBeNull();
  });

  it('ignores a leading UTF-8 byte order mark', () => {
    expect(parseJsonBody(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"model":"mock"}')]))).toEqual({ model: 'mock' });
  });

  it(`accepts nesting ${MAX_JSON_DEPTH} levels deep and refuses one more with a 400, brackets inside strings not counted`, () => {
    const nested = (depth: number) => `{"model":"mock","x":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)},"s":"[[[[{{{{\\"[[[["}`;
    expect(parseJsonBody(Buffer.from(nested(MAX_JSON_DEPTH)))).toMatchObject({ model: 'mock', s: '[[[[{{{{"[[[[' });
    const error = errorOf(Buffer.from(nested(MAX_JSON_DEPTH + 1)));
    expect(error).toMatchObject({ code: 'invalid_request', status: 400 });
    expect(error.message).toBe(`The request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep.`);
    // Deep enough to overflow the stack of the code that walks a request (a 500 before the limit).
    expect(errorOf(Buffer.from(nested(5000))).code).toBe('invalid_request');
  });

  it('accepts many brackets that do not nest: in strings, and side by side', () => {
    const inString = `{"model":"mock","s":"${'[{'.repeat(MAX_JSON_DEPTH)}"}`;
    expect(parseJsonBody(Buffer.from(inString))).toMatchObject({ s: '[{'.repeat(MAX_JSON_DEPTH) });
    const messages = Array.from({ length: MAX_JSON_DEPTH * 2 }, (_, i) => ({ role: 'user', content: [{ type: 'text', text: `part ${i}` }] }));
    expect(parseJsonBody(Buffer.from(JSON.stringify({ model: 'mock', messages })))).toMatchObject({ messages: { length: MAX_JSON_DEPTH * 2 } });
  });

  it('rejects an empty body as invalid_json 400', () => {
    const error = errorOf(Buffer.alloc(0));
    expect(error).toMatchObject({ code: 'invalid_json', status: 400, retryable: false });
    expect(error.message).toBe('The request body is empty; send a JSON object.');
  });

  it.each([
    ['a lone continuation byte', Buffer.from([0x7b, 0x80, 0x7d])],
    ['a truncated multi-byte sequence', Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xe3, 0x81]), Buffer.from('"}')])],
    ['Latin-1 text', Buffer.from('{"content":"caf\xe9"}', 'latin1')],
    ['an overlong encoding', Buffer.from([0x22, 0xc0, 0xaf, 0x22])],
  ])('rejects invalid UTF-8 (%s) as invalid_encoding 400', (_what, body) => {
    const error = errorOf(body);
    expect(error).toMatchObject({ code: 'invalid_encoding', status: 400 });
    expect(error.message).toBe('The request body is not valid UTF-8.');
  });

  it.each([
    ['truncated JSON', '{"model": "mock", "messages": ['],
    ['a trailing comma', '{"model": "mock",}'],
    ['single quotes', "{'model': 'mock'}"],
    ['form data', 'model=mock&stream=true'],
    ['whitespace only', '   \n'],
  ])('rejects %s as invalid_json 400, saying why', (_what, text) => {
    const error = errorOf(Buffer.from(text));
    expect(error).toMatchObject({ code: 'invalid_json', status: 400, param: null });
    expect(error.message).toMatch(/^The request body is not valid JSON: .+/);
  });
});
