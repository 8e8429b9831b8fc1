import { describe, expect, it } from 'vitest';
import { heapFlags } from './heap-tuning.js';

describe('heapFlags', () => {
  it('turns allocation-site pretenuring off by default', () => {
    expect(heapFlags([], undefined)).toEqual(['--no-allocation-site-pretenuring']);
    expect(heapFlags(['--enable-source-maps'], '--max-old-space-size=512')).toEqual(['--no-allocation-site-pretenuring']);
  });

  it('leaves pretenuring alone when node was given a pretenuring flag, in either spelling', () => {
    expect(heapFlags(['--allocation-site-pretenuring'], undefined)).toEqual([]);
    expect(heapFlags([], '--max-semi-space-size=4 --allocation_site_pretenuring')).toEqual([]);
    expect(heapFlags(['--no-allocation-site-pretenuring'], '')).toEqual([]);
  });

  it('does not mistake a similar flag for the pretenuring one', () => {
    expect(heapFlags(['--trace-pretenuring'], '--allocation-site-pretenuring-x')).toEqual(['--no-allocation-site-pretenuring']);
  });
});
