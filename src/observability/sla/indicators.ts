/**
 * The service-level indicators, computed from a window's summary (classify.ts decides what a
 * sample is). Values are in the config's units (percent, milliseconds); metrics use ratios and
 * seconds (Prometheus conventions).
 *
 * - availability: successes / (successes + server failures). Client errors are not the service's
 *   to answer for and are left out.
 * - error_rate: (client errors + server failures) / (successes + client errors + server failures):
 *   how many answers were errors, whoever was at fault.
 * - p95_latency: 95th percentile of the total time of successful requests (failures are the
 *   availability's business, and fast failures would flatter latency).
 * - p95_ttft: 95th percentile of the time to the first token of successful streams.
 *
 * Each indicator's samples are its own denominator; `min_requests` applies to that count.
 */
import type { SloSettings } from '../../config/sla-schema.js';
import { quantile } from './log-histogram.js';
import type { WindowSummary } from './rolling-window.js';

export type IndicatorName = 'availability' | 'error_rate' | 'p95_latency' | 'p95_ttft';
export type IndicatorUnit = 'percent' | 'ms';

export interface Measurement {
  /** null when the window has no samples for it. */
  value: number | null;
  samples: number;
}

export interface Indicator {
  name: IndicatorName;
  configKey: 'availability' | 'error_rate' | 'p95_latency_ms' | 'p95_ttft_ms';
  unit: IndicatorUnit;
  /** Availability must stay at or above its objective; the others at or below. */
  higherIsBetter: boolean;
  measure(summary: WindowSummary): Measurement;
}

const ratioPercent = (part: number, whole: number): Measurement => ({ value: whole === 0 ? null : (part / whole) * 100, samples: whole });

export const INDICATORS: readonly Indicator[] = [
  {
    name: 'availability',
    configKey: 'availability',
    unit: 'percent',
    higherIsBetter: true,
    measure: (s) => ratioPercent(s.successes, s.successes + s.serverFailures),
  },
  {
    name: 'error_rate',
    configKey: 'error_rate',
    unit: 'percent',
    higherIsBetter: false,
    measure: (s) => ratioPercent(s.clientErrors + s.serverFailures, s.successes + s.clientErrors + s.serverFailures),
  },
  {
    name: 'p95_latency',
    configKey: 'p95_latency_ms',
    unit: 'ms',
    higherIsBetter: false,
    measure: (s) => ({ value: quantile(s.latency, s.successes, 0.95), samples: s.successes }),
  },
  {
    name: 'p95_ttft',
    configKey: 'p95_ttft_ms',
    unit: 'ms',
    higherIsBetter: false,
    measure: (s) => ({ value: quantile(s.ttft, s.ttftCount, 0.95), samples: s.ttftCount }),
  },
];

/** The indicators an objective sets, with their objective values. */
export function indicatorsOf(slo: SloSettings): { indicator: Indicator; objective: number }[] {
  return INDICATORS.flatMap((indicator) => {
    const objective = slo[indicator.configKey];
    return objective === undefined ? [] : [{ indicator, objective }];
  });
}

export function isViolated(indicator: Indicator, value: number, objective: number): boolean {
  return indicator.higherIsBetter ? value < objective : value > objective;
}

/** A config-unit value in the metrics' unit: percent → ratio 0..1, milliseconds → seconds. */
export function toMetricUnit(unit: IndicatorUnit, value: number): number {
  return unit === 'percent' ? value / 100 : value / 1000;
}
