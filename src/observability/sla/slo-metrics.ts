/**
 * The SLO series. Values are in Prometheus base units: availability and error rate as ratios
 * (0..1), latencies in seconds. They change once per evaluation, so prom-client's own gauges do.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AlertKind } from './alert-payloads.js';

export type AlertOutcome = 'sent' | 'failed' | 'suppressed';

export class SloMetrics {
  readonly #value: Gauge<'slo' | 'indicator'>;
  readonly #objective: Gauge<'slo' | 'indicator'>;
  readonly #violated: Gauge<'slo' | 'indicator'>;
  readonly #alerts: Counter<'slo' | 'indicator' | 'kind' | 'outcome'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#value = new Gauge({
      name: 'switchyard_slo_value',
      help: 'Current value of a service-level indicator over its window (ratios for availability and error_rate, seconds for latencies); absent while the window has no samples.',
      labelNames: ['slo', 'indicator'],
      registers,
    });
    this.#objective = new Gauge({
      name: 'switchyard_slo_objective',
      help: 'The objective of a service-level indicator, in the unit of switchyard_slo_value.',
      labelNames: ['slo', 'indicator'],
      registers,
    });
    this.#violated = new Gauge({
      name: 'switchyard_slo_violated',
      help: '1 while a service-level objective is violated, else 0 (also while it has too few samples).',
      labelNames: ['slo', 'indicator'],
      registers,
    });
    this.#alerts = new Counter({
      name: 'switchyard_slo_alerts_total',
      help: 'SLO alerts by kind (violation / recovery) and outcome: sent / failed per webhook, suppressed (within the cool-down) per alert.',
      labelNames: ['slo', 'indicator', 'kind', 'outcome'],
      registers,
    });
  }

  objective(slo: string, indicator: string, value: number): void {
    this.#objective.set({ slo, indicator }, value);
    this.#violated.set({ slo, indicator }, 0);
  }

  /** null: no samples in the window (the series disappears rather than showing a made-up 0). */
  value(slo: string, indicator: string, value: number | null, violated: boolean): void {
    if (value === null) this.#value.remove({ slo, indicator });
    else this.#value.set({ slo, indicator }, value);
    this.#violated.set({ slo, indicator }, violated ? 1 : 0);
  }

  alert(slo: string, indicator: string, kind: AlertKind, outcome: AlertOutcome): void {
    this.#alerts.inc({ slo, indicator, kind, outcome });
  }
}
