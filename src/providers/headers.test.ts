import { describe, expect, it } from 'vitest';
import { mergeHeaders } from './headers.js';

describe('mergeHeaders', () => {
  it('merges into a new object, later sources winning, as a spread would', () => {
    const first = { 'content-type': 'text/event-stream', 'x-request-id': 'a' };
    const second = { 'x-request-id': 'b', 'x-ratelimit-remaining-requests': '9', 'set-cookie': ['a=1', 'b=2'] };
    const merged = mergeHeaders(first, second, { trailer: 'x-switchyard-cost-usd' });
    expect(merged).toEqual({ ...first, ...second, trailer: 'x-switchyard-cost-usd' });
    expect(Object.keys(merged)).toEqual(Object.keys({ ...first, ...second, trailer: '' }));
    expect(first).toEqual({ 'content-type': 'text/event-stream', 'x-request-id': 'a' });
    expect(merged).not.toBe(first);
  });
});
