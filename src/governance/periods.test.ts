import { describe, expect, it } from 'vitest';
import { periodWindow } from './periods.js';

const at = (iso: string) => Date.parse(iso);

describe('periodWindow', () => {
  it('days run from UTC midnight to the next', () => {
    const window = periodWindow('daily', at('2026-12-06T23:59:59.999Z'));
    expect(window).toEqual({ id: 'd2026-12-06', startsAt: at('2026-12-06T00:00:00Z'), startDay: '2026-12-06', endsAt: at('2026-12-07T00:00:00Z') });
  });

  it('weeks start on Monday, also from a Sunday', () => {
    // 2026-12-06 is a Sunday: its week began on Monday 2026-11-30.
    expect(periodWindow('weekly', at('2026-12-06T12:00:00Z'))).toMatchObject({ id: 'w2026-11-30', startDay: '2026-11-30', endsAt: at('2026-12-07T00:00:00Z') });
    expect(periodWindow('weekly', at('2026-12-07T00:00:00Z')).startDay).toBe('2026-12-07');
  });

  it('months end at the first of the next, across the year', () => {
    expect(periodWindow('monthly', at('2026-12-31T18:00:00Z'))).toMatchObject({ id: 'm2026-12', startDay: '2026-12-01', endsAt: at('2027-01-01T00:00:00Z') });
    expect(periodWindow('monthly', at('2027-02-10T00:00:00Z')).endsAt).toBe(at('2027-03-01T00:00:00Z'));
  });

  it('total never ends', () => {
    expect(periodWindow('total', Date.now())).toEqual({ id: 'total', startsAt: -Infinity, startDay: null, endsAt: Infinity });
  });

  it('moves on when the cached window ends, and back for an earlier time', () => {
    expect(periodWindow('daily', at('2026-12-06T23:59:59.999Z')).id).toBe('d2026-12-06');
    expect(periodWindow('daily', at('2026-12-07T00:00:00Z')).id).toBe('d2026-12-07');
    expect(periodWindow('daily', at('2026-12-06T10:00:00Z')).id).toBe('d2026-12-06');
  });
});
