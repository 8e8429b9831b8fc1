import { describe, expect, it } from 'vitest';
import { heapFlags } from './heap-tuning.js';

const ALL = ['--no-allocation-site-pretenuring', '--heap-growing-percent=25', '--liftoff-only'];

describe('heapFlags', () => {
  it('turns allocation-site pretenuring off and bounds old-generation growth by default', () => {
    expect(heapFlags([], undefined, 'x64')).toEqual(ALL);
    expect(heapFlags(['--enable-source-maps'], '--max-old-space-size=512', 'x64')).toEqual(ALL);
  });

  it('leaves pretenuring alone when node was given a pretenuring flag, in either spelling', () => {
    expect(heapFlags(['--allocation-site-pretenuring'], undefined, 'x64')).toEqual(['--heap-growing-percent=25', '--liftoff-only']);
    expect(heapFlags([], '--max-semi-space-size=4 --allocation_site_pretenuring', 'x64')).toEqual(['--heap-growing-percent=25', '--liftoff-only']);
    expect(heapFlags(['--no-allocation-site-pretenuring'], '', 'x64')).toEqual(['--heap-growing-percent=25', '--liftoff-only']);
  });

  it('leaves the growing factor alone when node was given one', () => {
    expect(heapFlags(['--heap-growing-percent=100'], undefined, 'x64')).toEqual(['--no-allocation-site-pretenuring', '--liftoff-only']);
    expect(heapFlags([], '--heap_growing_percent=50', 'x64')).toEqual(['--no-allocation-site-pretenuring', '--liftoff-only']);
    expect(heapFlags(['--heap-growing-percent=50', '--allocation-site-pretenuring'], undefined, 'x64')).toEqual(['--liftoff-only']);
  });

  it('leaves WebAssembly tiering alone when node was given the flag', () => {
    expect(heapFlags(['--no-liftoff-only'], undefined, 'x64')).toEqual(['--no-allocation-site-pretenuring', '--heap-growing-percent=25']);
    expect(heapFlags([], '--liftoff_only', 'x64')).toEqual(['--no-allocation-site-pretenuring', '--heap-growing-percent=25']);
  });

  it('keeps WebAssembly on Liftoff only on x64 and arm64, where Liftoff compiles all of it', () => {
    expect(heapFlags([], undefined, 'arm64')).toEqual(ALL);
    for (const arch of ['ppc64', 's390x', 'arm', 'riscv64']) expect(heapFlags([], undefined, arch)).toEqual(['--no-allocation-site-pretenuring', '--heap-growing-percent=25']);
  });

  it('does not mistake a similar flag for one of its own', () => {
    expect(heapFlags(['--trace-pretenuring'], '--allocation-site-pretenuring-x --heap-growing', 'x64')).toEqual(ALL);
  });
});
