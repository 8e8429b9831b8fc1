import { describe, expect, it } from 'vitest';
import { dropRawJson, toJson, toJsonWithoutUsage, withRawJson } from './raw-json.js';

const roundTrip = (text: string): unknown => JSON.parse(text);

describe('toJson', () => {
  it('sends the upstream text as it came when one is attached, else serialises', () => {
    const raw = '{"id":"a", "extra":  1}';
    const value = withRawJson(JSON.parse(raw) as object, raw);
    expect(toJson(value)).toBe(raw);
    expect(toJson({ id: 'b' })).toBe('{"id":"b"}');
  });

  it('serialises again once the raw text was dropped after a change', () => {
    const value = withRawJson({ id: 'a' } as { id: string }, '{"id":"a"}');
    value.id = 'changed';
    dropRawJson(value);
    expect(toJson(value)).toBe('{"id":"changed"}');
  });
});

describe('the attached text', () => {
  it('stays with its value: copies, keys and serialisation never see it', () => {
    const raw = '{"id":"a","n":1}';
    const value = withRawJson(JSON.parse(raw) as { id: string; n: number }, raw);
    expect(Object.keys(value)).toEqual(['id', 'n']);
    expect(JSON.stringify(value)).toBe(raw);
    expect(toJson({ ...value, n: 2 })).toBe('{"id":"a","n":2}');
    expect(toJson(Object.assign({}, value, { n: 3 }))).toBe('{"id":"a","n":3}');
    const clone = structuredClone(value);
    clone.n = 4;
    expect(toJson(clone)).toBe('{"id":"a","n":4}');
    expect(value).toEqual({ id: 'a', n: 1 });
  });
});

describe('toJsonWithoutUsage', () => {
  const cases: [string, string][] = [
    ['usage in the middle (OpenAI, followed by obfuscation)', '{"id":"c","choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null,"obfuscation":"Lr5Gt1"}'],
    ['usage last', '{"id":"c","choices":[],"usage":null}'],
    ['usage first', '{"usage":null,"id":"c","choices":[]}'],
    ['whitespace (falls back to serialising)', '{"id": "c", "choices": [], "usage": null}'],
    ['a second "usage":null nested in content', '{"id":"c","choices":[{"index":0,"delta":{"usage":null}}],"usage":null}'],
  ];
  it.each(cases)('removes the top-level usage field: %s', (_name, raw) => {
    const chunk = withRawJson(JSON.parse(raw) as { usage?: unknown }, raw);
    const expected = JSON.parse(raw) as Record<string, unknown>;
    delete expected.usage;
    expect(roundTrip(toJsonWithoutUsage(chunk))).toEqual(expected);
  });

  it('passes a chunk without usage through unchanged', () => {
    const raw = '{"id":"c","choices":[]}';
    expect(toJsonWithoutUsage(withRawJson(JSON.parse(raw) as object, raw))).toBe(raw);
  });

  it('removes a non-null usage by serialising (and does not reuse the stale text)', () => {
    const raw = '{"id":"c","choices":[],"usage":{"prompt_tokens":1}}';
    const chunk = withRawJson(JSON.parse(raw) as { usage?: unknown }, raw);
    expect(toJsonWithoutUsage(chunk)).toBe('{"id":"c","choices":[]}');
    expect(toJson(chunk)).toBe('{"id":"c","choices":[]}');
  });

  it('works on chunks that never had raw text (mock and translated providers)', () => {
    expect(toJsonWithoutUsage({ id: 'c', usage: null } as { usage?: unknown })).toBe('{"id":"c"}');
  });
});
