import { describe, expect, it } from 'vitest';
import { MAX_UPSTREAM_JSON_DEPTH, nestsDeeperThan, parseResponseJson, parseStreamEvent } from './upstream-json.js';

const nested = (levels: number): string => `${'['.repeat(levels)}${']'.repeat(levels)}`;

describe('nestsDeeperThan', () => {
  it('measures the nesting of arrays and objects, not brackets inside strings', () => {
    expect(nestsDeeperThan(nested(600), 512)).toBe(true);
    expect(nestsDeeperThan(`{"a":${nested(511)}}`, 512)).toBe(false);
    expect(nestsDeeperThan(`{"a":${nested(512)}}`, 512)).toBe(true);
    // 2,000 brackets in a string (escaped quotes inside too) are text.
    expect(nestsDeeperThan(JSON.stringify({ text: `"${'{['.repeat(1000)}` }), 512)).toBe(false);
    // Many brackets side by side are not deep.
    expect(nestsDeeperThan(JSON.stringify(Array.from({ length: 2000 }, () => [1])), 512)).toBe(false);
  });
});

describe('parsing upstream JSON', () => {
  it(`refuses JSON nested deeper than ${MAX_UPSTREAM_JSON_DEPTH} levels as unreadable (502), in answers and stream events`, () => {
    expect(() => parseResponseJson(`{"a":${nested(5000)}}`, 'up')).toThrow(/"up" returned JSON nested deeper than 512 levels/);
    expect(() => parseStreamEvent(`{"a":${nested(5000)}}`, 'up')).toThrow(/"up" sent a stream event nested deeper than 512 levels/);
    expect(parseResponseJson(`{"a":${nested(100)}}`, 'up')).toBeTypeOf('object');
  });
});
