import { describe, expect, it } from 'vitest';
import { RowQueue } from './row-queue.js';

describe('RowQueue', () => {
  it('gives rows back oldest first, across many pushes and drops', () => {
    const queue = new RowQueue<number>();
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) queue.push(next++);
      const batch = queue.peek(70);
      expect(batch).toEqual(Array.from({ length: 70 }, (_, i) => expected + i));
      queue.drop(batch.length);
      expected += 70;
      expect(queue.length).toBe(next - expected);
    }
    expect(queue.takeAll()).toEqual(Array.from({ length: next - expected }, (_, i) => expected + i));
    expect(queue.length).toBe(0);
  });

  it('keeps due the rows queued when marked, until they are dropped', () => {
    const queue = new RowQueue<string>();
    queue.push('a');
    queue.push('b');
    expect(queue.due).toBe(false);
    queue.markDue();
    queue.push('c');
    queue.drop(1);
    expect(queue.due).toBe(true); // 'b' is still due
    queue.drop(1);
    expect(queue.due).toBe(false); // 'c' arrived after the mark
    expect(queue.peek(5)).toEqual(['c']);
    queue.markDue();
    expect(queue.takeAll()).toEqual(['c']);
    expect(queue.due).toBe(false);
  });
});
