import { describe, expect, it } from 'vitest';
import { costText } from './headers.js';

describe('costText', () => {
  it('writes USD in plain decimals to the nano-dollar, without trailing zeros or exponent', () => {
    expect(costText(0)).toBe('0');
    expect(costText(10)).toBe('10');
    expect(costText(100.5)).toBe('100.5');
    expect(costText(0.000126)).toBe('0.000126');
    expect(costText(1e-7)).toBe('0.0000001');
    expect(costText(2.5e-10)).toBe('0');
    expect(costText(1234.000000001)).toBe('1234.000000001');
    expect(costText(0.1 + 0.2)).toBe('0.3');
  });
});
