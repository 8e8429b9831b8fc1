import { describe, expect, it } from 'vitest';
import { heapFlags } from './heap-tuning.js';

const ALL = ['--no-allocation-site-pretenuring', '--heap-growing-percent=25', '--liftoff-only'];

describe('heapFlags', () => {
  it('turns allocation-site pretenuring off and bounds old-generation growth by default', () => {
    expect(heapFlags([], undefined)).toEqual(ALL);
    expect(heapFlags(['--enable-source-maps'], '--max-old-space-size=512')).toEqual(ALL);
  });

  it('leaves pretenuring alone when node was given a pretenuring flag, in either spelling', () => {
    expect(heapFlags(['--allocation-site-pretenuring'], undefined)).toEqual(['--heap-growing-percent=25', '--liftoff-only']);
    expect(heapFlags([], '--max-semi-space-size=4 --allocation_site_pretenuring')).toEqual(['--heap-growing-percent=25', '--liftoff-only']);
    expect(heapFlags(['--no-allocation-site-pretenuring'], '')).toEqual(['--heap-growing-percent=25', '--liftoff-only']);
  });

  it('leaves the growing factor alone when node was given one', () => {
    expect(heapFlags(['--heap-growing-percent=100'], undefined)).toEqual(['--no-allocation-site-pretenuring', '--liftoff-only']);
    expect(heapFlags([], '--heap_growing_percent=50')).toEqual(['--no-allocation-site-pretenuring', '--liftoff-only']);
    expect(heapFlags(['--heap-growing-percent=50', '--allocation-site-pretenuring'], undefined)).toEqual(['--liftoff-only']);
  });

  it('leaves WebAssembly tiering alone when node was given the flag', () => {
    expect(heapFlags(['--no-liftoff-only'], undefined)).toEqual(['--no-allocation-site-pretenuring', '--heap-growing-percent=25']);
    expect(heapFlags([], '--liftoff_only')).toEqual(['--no-allocation-site-pretenuring', '--heap-growing-percent=25']);
  });

  it('does not mistake a similar flag for one of its own', () => {
    expect(heapFlags(['--trace-pretenuring'], '--allocation-site-pretenuring-x --heap-growing')).toEqual(ALL);
  });
});
