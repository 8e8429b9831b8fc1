import { describe, expect, it } from 'vitest';
import { ToolCallIndexer } from './tool-call-index.js';

const indexes = (deltas: { index?: number; id?: string }[]): number[] => {
  const indexer = new ToolCallIndexer();
  return deltas.map((delta) => indexer.indexOf(delta));
};

describe('ToolCallIndexer', () => {
  it("keeps OpenAI's own indexes, interleaved or not", () => {
    expect(indexes([{ index: 0, id: 'a' }, { index: 1, id: 'b' }, { index: 0 }, { index: 1 }])).toEqual([0, 1, 0, 1]);
  });

  it('without indexes, starts a call at each new id and continues the last one otherwise', () => {
    expect(indexes([{ id: 'call_A' }, {}, { id: 'call_B' }, {}, { id: 'call_B' }, { id: 'call_C' }])).toEqual([0, 0, 1, 1, 1, 2]);
  });

  it('treats an empty id as no id, and numbers on from the highest index seen', () => {
    expect(indexes([{ id: '' }, { id: '' }])).toEqual([0, 0]);
    expect(indexes([{ index: 3, id: 'x' }, { id: 'y' }])).toEqual([3, 4]);
  });
});
