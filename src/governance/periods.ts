/**
 * Budget periods, in UTC: a day, a week from Monday, a calendar month, or all time. A budget's
 * spend counter is per period (its id is part of the counter's key), so a new period starts at 0.
 */
import type { BudgetPeriod } from './types.js';

export interface PeriodWindow {
  /** Part of the counter key: `d2026-12-06`, `w2026-11-30`, `m2026-12`, `total`. */
  id: string;
  /** Epoch ms when the period began (-Infinity for `total`). */
  startsAt: number;
  /** The first day (YYYY-MM-DD) spend counts from; null for all time. */
  startDay: string | null;
  /** Epoch ms when the period ends (the budget resets); Infinity for `total`. */
  endsAt: number;
}

const DAY_MS = 86_400_000;

/** The last window computed per period: every request of a day asks for the same ones. */
const recent = new Map<BudgetPeriod, PeriodWindow>();

/** The period containing `now` (cached until it ends: formatting dates costs more than the rest of admission). */
export function periodWindow(period: BudgetPeriod, now: number): PeriodWindow {
  const cached = recent.get(period);
  if (cached !== undefined && now >= cached.startsAt && now < cached.endsAt) return cached;
  const window = computeWindow(period, now);
  recent.set(period, window);
  return window;
}

function computeWindow(period: BudgetPeriod, now: number): PeriodWindow {
  const date = new Date(now);
  const dayStart = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
  switch (period) {
    case 'daily':
      return { id: `d${day(dayStart)}`, startsAt: dayStart, startDay: day(dayStart), endsAt: dayStart + DAY_MS };
    case 'weekly': {
      // getUTCDay: Sunday 0 … Saturday 6; weeks start on Monday (ISO 8601).
      const start = dayStart - ((date.getUTCDay() + 6) % 7) * DAY_MS;
      return { id: `w${day(start)}`, startsAt: start, startDay: day(start), endsAt: start + 7 * DAY_MS };
    }
    case 'monthly': {
      const start = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
      return { id: `m${day(start).slice(0, 7)}`, startsAt: start, startDay: day(start), endsAt: Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) };
    }
    case 'total':
      return { id: 'total', startsAt: -Infinity, startDay: null, endsAt: Infinity };
  }
}

/** YYYY-MM-DD (UTC) of an epoch ms. */
export function day(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}
