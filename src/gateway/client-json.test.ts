import { describe, expect, it } from 'vitest';
import { applyEdits, clientJsonOf, clientJsonWithModel, nestingDepth, topLevelMembers, withClientJson } from './client-json.js';

/** Each member's value text, parsed: what topLevelMembers found, as values. */
function valuesOf(json: Buffer): Record<string, unknown> | undefined {
  const top = topLevelMembers(json);
  if (!top) return undefined;
  expect(json[top.close]).toBe(0x7d);
  const out: Record<string, unknown> = {};
  for (const [key, { start, end }] of top.members) out[key] = JSON.parse(json.toString('utf8', start, end));
  return out;
}

/** A tiny seeded generator (mulberry32): the same cases on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TRICKY = ['"', '\\', '\\"', '{', '}', '[', ']', ',', ':', ' ', '\n', 'é', '€', '😀', '\u0000', '\u2028', 'model', '"model":'];

/** JSON text of `value` as a client might write it: random whitespace, and escapes JSON.stringify never makes. */
function writeJson(value: unknown, rand: () => number): string {
  const space = () => [' ', '', '\n  ', '\t', '\r\n', ''][Math.floor(rand() * 6)]!;
  const str = (s: string) =>
    `"${[...s]
      .map((ch) => {
        if (ch === '"' || ch === '\\') return `\\${ch}`;
        const code = ch.codePointAt(0)!;
        if (code < 0x20 || (code <= 0xffff && rand() < 0.2)) return `\\u${code.toString(16).padStart(4, '0')}`;
        return ch === '/' && rand() < 0.5 ? '\\/' : ch;
      })
      .join('')}"`;
  if (typeof value === 'string') return str(value);
  if (Array.isArray(value)) return `[${space()}${value.map((v) => writeJson(v, rand)).join(`${space()},${space()}`)}${space()}]`;
  if (value !== null && typeof value === 'object') {
    return `{${space()}${Object.entries(value)
      .map(([k, v]) => `${str(k)}${space()}:${space()}${writeJson(v, rand)}`)
      .join(`${space()},${space()}`)}${space()}}`;
  }
  return JSON.stringify(value);
}

function randomValue(rand: () => number, depth: number): unknown {
  const pick = Math.floor(rand() * (depth > 3 ? 4 : 7));
  if (pick === 0) return [0, -1.5e-7, 42, 3.25e21][Math.floor(rand() * 4)];
  if (pick === 1) return [true, false, null][Math.floor(rand() * 3)];
  if (pick <= 3) return Array.from({ length: Math.floor(rand() * 4) }, () => TRICKY[Math.floor(rand() * TRICKY.length)]).join('x');
  if (pick <= 4) return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
  return randomObject(rand, depth + 1);
}

function randomObject(rand: () => number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const count = Math.floor(rand() * 5);
  for (let i = 0; i < count; i++) out[`${TRICKY[Math.floor(rand() * TRICKY.length)]}${i}`] = randomValue(rand, depth);
  return out;
}

describe('topLevelMembers', () => {
  it('finds each member of compact JSON, nested values and strings skipped whole', () => {
    const json = Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: 'a "quoted" {brace} [bracket] \\ back' }], model: 'gpt-4o', n: 2, stream: true, stop: null, t: -1.5e-3 }));
    expect(valuesOf(json)).toEqual({ messages: [{ role: 'user', content: 'a "quoted" {brace} [bracket] \\ back' }], model: 'gpt-4o', n: 2, stream: true, stop: null, t: -1.5e-3 });
  });

  it('reads whitespace around everything, escaped keys, and strings ending in backslashes', () => {
    const json = Buffer.from(' \r\n{ "mod\\u0065l" :\t"a\\\\" ,\n "s": "\\\\\\"" , "o" : { "k" : [ 1 , "]" ] } }\n ');
    expect(valuesOf(json)).toEqual({ model: 'a\\', s: '\\"', o: { k: [1, ']'] } });
    expect(valuesOf(Buffer.from('{}'))).toEqual({});
    expect(valuesOf(Buffer.from('{ }'))).toEqual({});
  });

  it('gives up on what the caller should serialise instead', () => {
    for (const text of ['[1, 2]', '"model"', '42', '{"model":"a","model":"b"}', '{"model":"a", "mod\\u0065l":"b"}', '\ufeff{"model":"a"}', '{"model":"a"} x', '{"model":"a"', '{"model":"a}', '']) {
      expect(topLevelMembers(Buffer.from(text)), text).toBeUndefined();
    }
  });

  it('agrees with JSON.parse on 2,000 random objects written with random whitespace and escapes', () => {
    const rand = random(20261207);
    for (let i = 0; i < 2000; i++) {
      const value = randomObject(rand, 0);
      const text = writeJson(value, rand);
      expect(JSON.parse(text)).toEqual(value);
      expect(valuesOf(Buffer.from(text)), text).toEqual(value);
    }
  });
});

describe('applyEdits', () => {
  it('replaces and inserts at byte offsets, in any order, leaving the rest as it was', () => {
    const json = Buffer.from('{"model":"é-small","x":[1]}');
    const top = topLevelMembers(json)!;
    const edited = applyEdits(json, [
      { start: top.close, end: top.close, text: ',"added":true' },
      { ...top.members.get('model')!, text: '"€-large"' },
    ]);
    expect(edited.toString()).toBe('{"model":"€-large","x":[1],"added":true}');
    expect(applyEdits(json, [])).toBe(json);
  });
});

describe('withClientJson', () => {
  it('rides on the object only: not on copies, not in its JSON', () => {
    const bytes = Buffer.from('{"model":"m"}');
    const request = withClientJson({ model: 'm' }, bytes);
    expect(clientJsonOf(request)).toBe(bytes);
    expect(clientJsonOf({ ...request })).toBeUndefined();
    expect(JSON.stringify(request)).toBe('{"model":"m"}');
  });
});

describe('clientJsonWithModel', () => {
  const text = '{ "model" : "smart", "n": 1.0 }';
  const received = () => withClientJson({ model: 'smart', n: 1 }, Buffer.from(text));

  it('gives the bytes themselves when the model stays, and edits only its value when it changes', () => {
    const value = received();
    expect(clientJsonWithModel(value, 'smart')).toBe(clientJsonOf(value));
    expect(clientJsonWithModel(value, 'gpt-4o "x"')!.toString()).toBe('{ "model" : "gpt-4o \\"x\\"", "n": 1.0 }');
  });

  it('adds a member at the end, unless the client sent it', () => {
    expect(clientJsonWithModel(received(), 'up', { name: 'extra', json: '{"on":true}' })!.toString()).toBe('{ "model" : "up", "n": 1.0 ,"extra":{"on":true}}');
    expect(clientJsonWithModel(received(), 'up', { name: 'n', json: '2' })).toBeUndefined();
  });

  it('has nothing for a value without bytes or without a model member in them', () => {
    expect(clientJsonWithModel({ model: 'smart' }, 'up')).toBeUndefined();
    expect(clientJsonWithModel(withClientJson({ model: 'smart' }, Buffer.from('{"mode1":"smart"}')), 'up')).toBeUndefined();
  });
});

describe('nestingDepth', () => {
  it('counts the deepest array or object, not brackets in strings, whatever the escapes before a quote', () => {
    expect(nestingDepth(Buffer.from('{"s":"a\\\\","x":[[1,{"y":"]]]"}]],"t":"\\"[[[["}'))).toBe(4);
    expect(nestingDepth(Buffer.from('[]'))).toBe(1);
    expect(nestingDepth(Buffer.from('"[[["'))).toBe(0);
  });
});
