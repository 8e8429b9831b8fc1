import { describe, expect, it } from 'vitest';
import { writerIsBehind } from './setup.js';

describe('writerIsBehind', () => {
  const spend = { batch_size: 500, max_queue: 10_000 };
  const stats = (queued: number, spilled = 0) => ({ queued, spilled, written: 0, failures: 0 });

  it('is behind once a whole batch waits after the one being written', () => {
    expect(writerIsBehind(stats(999), spend)).toBe(false);
    expect(writerIsBehind(stats(1_000), spend)).toBe(true);
  });

  it('is behind while rows wait in the spill file, however short the queue (new rows join them there)', () => {
    expect(writerIsBehind(stats(0, 1), spend)).toBe(true);
  });

  it('is behind at a full queue when the queue holds less than two batches', () => {
    expect(writerIsBehind(stats(599), { batch_size: 500, max_queue: 600 })).toBe(false);
    expect(writerIsBehind(stats(600), { batch_size: 500, max_queue: 600 })).toBe(true);
  });
});
