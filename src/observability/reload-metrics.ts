/**
 * Configuration reloads (SIGHUP, POST /admin/config/reload), as Prometheus reports its own: whether the last one worked and
 * when the configuration in force was loaded, so an alert can catch a reload that failed and
 * left an older configuration serving.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export class ReloadMetrics {
  readonly #reloads: Counter<'result'>;
  readonly #lastSuccessful: Gauge;
  readonly #lastSuccessAt: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#reloads = new Counter({ name: 'switchyard_config_reloads_total', help: 'Configuration reloads (SIGHUP or POST /admin/config/reload), by result: applied or failed (the configuration in force was kept).', labelNames: ['result'], registers });
    this.#lastSuccessful = new Gauge({ name: 'switchyard_config_last_reload_successful', help: '1 when the last configuration reload (or the start-up) succeeded, 0 when it failed.', registers });
    this.#lastSuccessAt = new Gauge({ name: 'switchyard_config_last_reload_success_timestamp_seconds', help: 'Unix time the configuration in force was loaded (start-up or the last successful reload).', registers });
    for (const result of ['applied', 'failed']) this.#reloads.labels(result);
    this.#loaded();
  }

  applied(): void {
    this.#reloads.labels('applied').inc();
    this.#loaded();
  }

  failed(): void {
    this.#reloads.labels('failed').inc();
    this.#lastSuccessful.set(0);
  }

  #loaded(): void {
    this.#lastSuccessful.set(1);
    this.#lastSuccessAt.set(Math.floor(Date.now() / 1000));
  }
}
