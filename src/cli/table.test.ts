import { describe, expect, it } from 'vitest';
import { formatTable } from './table.js';

describe('formatTable', () => {
  it('pads each column to its widest cell, right-aligns numbers, leaves no trailing spaces', () => {
    const table = formatTable(
      [{ header: 'NAME' }, { header: 'N', align: 'right' }, { header: 'NOTE' }],
      [
        ['a', '1', ''],
        ['longer', '1,000', 'x'],
      ],
    );
    expect(table.split('\n')).toEqual([
      'NAME        N  NOTE', //
      'a           1',
      'longer  1,000  x',
    ]);
  });

  it('prints the header alone when there are no rows', () => {
    expect(formatTable([{ header: 'ID' }, { header: 'COST', align: 'right' }], [])).toBe('ID  COST');
  });
});
