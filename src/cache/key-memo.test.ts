import { describe, expect, it } from 'vitest';
import { KeyMemo } from './key-memo.js';

describe('KeyMemo', () => {
  it('computes once per body bytes and scope, and gives the computed key back', () => {
    const memo = new KeyMemo();
    let computed = 0;
    const compute = () => `key-${++computed}`;
    const body = Buffer.from('{"model":"m","messages":[]}');
    expect(memo.key('chat|ns|g', body, compute)).toBe('key-1');
    expect(memo.key('chat|ns|g', Buffer.from(body), compute)).toBe('key-1');
    expect(memo.key('chat|ns|other-group', body, compute)).toBe('key-2');
    expect(memo.key('chat|ns|g', Buffer.from('{"model":"m","messages":[] }'), compute)).toBe('key-3');
    expect(computed).toBe(3);
  });

  it('computes every time without a body, and for large bodies', () => {
    const memo = new KeyMemo();
    let computed = 0;
    const compute = () => `key-${++computed}`;
    memo.key('s', undefined, compute);
    memo.key('s', undefined, compute);
    const big = Buffer.alloc(64 * 1024 + 1, 'a');
    memo.key('s', big, compute);
    memo.key('s', big, compute);
    expect(computed).toBe(4);
  });

  it('forgets the least recently used body past its bound', () => {
    const memo = new KeyMemo(2);
    let computed = 0;
    const compute = () => `key-${++computed}`;
    const [a, b, c] = ['a', 'b', 'c'].map((text) => Buffer.from(text));
    memo.key('s', a!, compute); // key-1
    memo.key('s', b!, compute); // key-2
    memo.key('s', a!, compute); // a is now the most recent
    memo.key('s', c!, compute); // key-3 evicts b
    expect(memo.key('s', a!, compute)).toBe('key-1');
    expect(memo.key('s', b!, compute)).toBe('key-4');
  });
});
