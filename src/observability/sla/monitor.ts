/**
 * The SLA monitor: every finished request is recorded into the rolling window of each objective
 * that targets its model group or provider (`observe`, on the request path: two map lookups and a
 * few array writes); every `sla.evaluation_interval_ms` each objective's indicators are computed
 * and their states decided, and changes are alerted.
 *
 * States per (objective, indicator): `insufficient_data` (fewer than `min_requests` samples; the
 * start state), `ok`, `violated`. Alerts:
 * - entering `violated` sends a violation alert, unless a violation alert for the same objective
 *   and indicator went out less than `alerts.cooldown_ms` ago: then it is held back (counted once
 *   as suppressed) and sent when the cool-down ends if the indicator is still violated;
 * - staying violated sends nothing more;
 * - `ok` after an alerted violation sends one recovery alert (a held-back violation that ends
 *   before its alert went out ends silently);
 * - `insufficient_data` changes nothing about alerts: a violation whose traffic dried up is
 *   recovered only when enough traffic says so.
 */
import type { Registry } from 'prom-client';
import type { SlaSettings, SloSettings } from '../../config/sla-schema.js';
import { roundValue, type AlertKind, type IndicatorStateName, type SloAlert, type SloTarget } from './alert-payloads.js';
import { EXCLUDED, classify } from './classify.js';
import { indicatorsOf, isViolated, toMetricUnit, type Indicator, type IndicatorName, type IndicatorUnit } from './indicators.js';
import { QualitySignals, type AnswerSample, type ModelQuality } from './quality.js';
import { bucketOf } from './log-histogram.js';
import { RollingWindow, type WindowSummary } from './rolling-window.js';
import { SloMetrics } from './slo-metrics.js';
import { AlertDispatcher, type AlertLogger, type WebhookSend } from './webhooks.js';

/** One finished request, as settle sees it. */
export interface RequestSample {
  /** The model group; '' when it did not resolve. */
  model: string;
  /** The provider that answered (or failed last), 'cache' for a cache hit, '' when none was tried. */
  provider: string;
  status: number;
  totalMs: number;
  /** Streams: time to the first token (ms since the request arrived). */
  firstTokenMs?: number;
  stream: boolean;
  /** The GatewayError code, when the request failed (also when a stream failed after its 200). */
  errorCode?: string;
}

export interface SlaMonitorDeps {
  registry: Registry;
  logger: AlertLogger;
  /** Epoch milliseconds; tests inject a clock. */
  now?: () => number;
  /** Webhook transport (default: undici POST). */
  send?: WebhookSend;
  /** First webhook retry delay (default 1 s, doubling). */
  retryDelayMs?: number;
}

interface IndicatorTrack {
  indicator: Indicator;
  objective: number;
  state: IndicatorStateName;
  since: number;
  value: number | null;
  samples: number;
  /** A violation alert went out for the current violation: a recovery is owed. */
  alerted: boolean;
  /** The current violation began within the cool-down and its alert is held back. */
  heldBack: boolean;
  lastViolationAlertAt: number | undefined;
}

interface Objective {
  slo: SloSettings;
  target: SloTarget;
  window: RollingWindow;
  requests: number;
  tracks: IndicatorTrack[];
}

export interface SloView {
  name: string;
  target: SloTarget;
  window_ms: number;
  min_requests: number;
  requests: number;
  /** violated if any indicator is, else ok if any is, else insufficient_data. */
  state: IndicatorStateName;
  indicators: { indicator: IndicatorName; unit: IndicatorUnit; objective: number; value: number | null; samples: number; state: IndicatorStateName; since: string }[];
}

export interface SlaSnapshot {
  object: 'list';
  evaluated_at: string | null;
  data: SloView[];
  quality: ModelQuality[];
}

export class SlaMonitor {
  readonly quality: QualitySignals;
  readonly #settings: SlaSettings;
  readonly #now: () => number;
  readonly #logger: AlertLogger;
  readonly #metrics: SloMetrics;
  readonly #dispatcher: AlertDispatcher;
  readonly #objectives: Objective[];
  /** Windows by the model group / provider they count; objectives with the same target and window share one. */
  readonly #byModel = new Map<string, RollingWindow[]>();
  readonly #byProvider = new Map<string, RollingWindow[]>();
  readonly #hasObjectives: boolean;
  readonly #tickMs: number;
  #timer: NodeJS.Timeout | undefined;
  #ticker: NodeJS.Timeout | undefined;
  /** The clock as of the last tick (observe's time once started). */
  #tickNow = 0;
  #evaluatedAt: number | undefined;

  constructor(settings: SlaSettings, deps: SlaMonitorDeps) {
    this.#settings = settings;
    this.#now = deps.now ?? Date.now;
    this.#logger = deps.logger;
    this.#metrics = new SloMetrics(deps.registry);
    this.quality = new QualitySignals(deps.registry);
    this.#dispatcher = new AlertDispatcher({
      webhooks: settings.alerts.webhooks,
      retries: settings.alerts.retries,
      logger: deps.logger,
      send: deps.send,
      retryDelayMs: deps.retryDelayMs,
      onOutcome: (alert, outcome) => this.#metrics.alert(alert.slo, alert.indicator, alert.kind, outcome),
    });
    const start = this.#now();
    const windows = new Map<string, RollingWindow>();
    this.#objectives = settings.objectives.map((slo) => {
      const target: SloTarget = slo.model !== undefined ? { model: slo.model } : { provider: slo.provider! };
      const [kind, name] = 'model' in target ? (['model', target.model] as const) : (['provider', target.provider] as const);
      const key = `${kind}\u0000${name}\u0000${slo.window_ms}`;
      let window = windows.get(key);
      if (!window) {
        window = new RollingWindow(slo.window_ms);
        windows.set(key, window);
        const index = kind === 'model' ? this.#byModel : this.#byProvider;
        index.set(name, [...(index.get(name) ?? []), window]);
      }
      const tracks = indicatorsOf(slo).map(({ indicator, objective }) => {
        this.#metrics.objective(slo.name, indicator.name, toMetricUnit(indicator.unit, objective));
        return { indicator, objective, state: 'insufficient_data', since: start, value: null, samples: 0, alerted: false, heldBack: false, lastViolationAlertAt: undefined } satisfies IndicatorTrack;
      });
      return { slo, target, window, requests: 0, tracks };
    });
    this.#hasObjectives = this.#objectives.length > 0;
    const shortestSlice = Math.min(...[...windows.values()].map((w) => w.sliceMs));
    this.#tickMs = Math.min(250, Math.max(10, Math.floor(shortestSlice / 4)));
  }

  /** Records a finished request (the request path: no allocation, no I/O, no clock read once started). */
  observe(sample: RequestSample): void {
    if (!this.#hasObjectives) return;
    const byModel = this.#byModel.get(sample.model);
    // A cache hit is the model group's answer, not the provider's.
    const byProvider = sample.provider === 'cache' ? undefined : this.#byProvider.get(sample.provider);
    if (byModel === undefined && byProvider === undefined) return;
    const sampleClass = classify(sample.status, sample.errorCode);
    if (sampleClass === EXCLUDED) return;
    const now = this.#timer === undefined ? this.#now() : this.#tickNow;
    const latency = bucketOf(sample.totalMs);
    const ttft = sample.stream && sample.firstTokenMs !== undefined ? bucketOf(sample.firstTokenMs) : -1;
    if (byModel !== undefined) for (let i = 0; i < byModel.length; i++) byModel[i]!.record(now, sampleClass, latency, ttft);
    if (byProvider !== undefined) for (let i = 0; i < byProvider.length; i++) byProvider[i]!.record(now, sampleClass, latency, ttft);
  }

  /** Records an answer's quality signals (quality.ts). */
  observeAnswer(sample: AnswerSample): void {
    this.quality.observe(sample);
  }

  /**
   * Evaluates periodically. Samples are then stamped with a clock read every tick (a quarter of
   * the shortest slice, within 10-250 ms) rather than per request: reading the clock costs more
   * than recording (~0.2 µs on some VMs), and a sample a tick late lands at most one slice late.
   * Neither timer keeps the process alive.
   */
  start(): void {
    if (this.#timer || !this.#hasObjectives) return;
    this.#tickNow = this.#now();
    this.#ticker = setInterval(() => void (this.#tickNow = this.#now()), this.#tickMs);
    this.#ticker.unref();
    this.#timer = setInterval(() => {
      this.evaluate().catch((err: unknown) => this.#logger.error({ err }, 'SLA evaluation failed'));
    }, this.#settings.evaluation_interval_ms);
    this.#timer.unref();
  }

  /** Stops evaluating and waits for the alerts being delivered (retries are cut short). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#ticker);
    this.#timer = undefined;
    this.#ticker = undefined;
    await this.#dispatcher.close();
  }

  /** One evaluation; resolves when the alerts it raised were delivered (or given up on). */
  async evaluate(): Promise<void> {
    const now = this.#now();
    const summaries = new Map<RollingWindow, WindowSummary>();
    const deliveries: Promise<void>[] = [];
    for (const objective of this.#objectives) {
      let summary = summaries.get(objective.window);
      if (!summary) {
        summary = objective.window.summary(now);
        summaries.set(objective.window, summary);
      }
      objective.requests = summary.successes + summary.clientErrors + summary.serverFailures;
      for (const track of objective.tracks) {
        const alert = this.#decide(objective, track, summary, now);
        if (alert) deliveries.push(this.#raise(objective, track, alert, now));
      }
    }
    this.#evaluatedAt = now;
    await Promise.all(deliveries);
  }

  snapshot(): SlaSnapshot {
    return {
      object: 'list',
      evaluated_at: this.#evaluatedAt === undefined ? null : new Date(this.#evaluatedAt).toISOString(),
      data: this.#objectives.map((objective) => ({
        name: objective.slo.name,
        target: objective.target,
        window_ms: objective.slo.window_ms,
        min_requests: objective.slo.min_requests,
        requests: objective.requests,
        state: overallState(objective.tracks),
        indicators: objective.tracks.map((track) => ({
          indicator: track.indicator.name,
          unit: track.indicator.unit,
          objective: track.objective,
          value: roundValue(track.indicator.unit, track.value),
          samples: track.samples,
          state: track.state,
          since: new Date(track.since).toISOString(),
        })),
      })),
      quality: this.quality.snapshot(),
    };
  }

  /** Updates the track's value and state; returns the alert it owes now, if any. */
  #decide(objective: Objective, track: IndicatorTrack, summary: WindowSummary, now: number): AlertKind | undefined {
    const { value, samples } = track.indicator.measure(summary);
    const state: IndicatorStateName =
      value === null || samples < objective.slo.min_requests ? 'insufficient_data' : isViolated(track.indicator, value, track.objective) ? 'violated' : 'ok';
    track.value = value;
    track.samples = samples;
    if (state !== track.state) {
      track.state = state;
      track.since = now;
    }
    this.#metrics.value(objective.slo.name, track.indicator.name, value === null ? null : toMetricUnit(track.indicator.unit, value), state === 'violated');

    if (state === 'ok') {
      track.heldBack = false;
      if (!track.alerted) return undefined;
      track.alerted = false;
      return 'recovery';
    }
    if (state !== 'violated' || track.alerted) return undefined;
    const cooling = track.lastViolationAlertAt !== undefined && now - track.lastViolationAlertAt < this.#settings.alerts.cooldown_ms;
    if (cooling) {
      if (!track.heldBack) {
        track.heldBack = true;
        this.#metrics.alert(objective.slo.name, track.indicator.name, 'violation', 'suppressed');
        this.#logger.info(this.#describe(objective, track), 'SLO violated again within the alert cool-down; the alert is held back');
      }
      return undefined;
    }
    track.heldBack = false;
    track.alerted = true;
    track.lastViolationAlertAt = now;
    return 'violation';
  }

  #raise(objective: Objective, track: IndicatorTrack, kind: AlertKind, now: number): Promise<void> {
    if (kind === 'violation') this.#logger.warn(this.#describe(objective, track), 'SLO violated');
    else this.#logger.info(this.#describe(objective, track), 'SLO recovered');
    const alert: SloAlert = {
      kind,
      slo: objective.slo.name,
      indicator: track.indicator.name,
      unit: track.indicator.unit,
      target: objective.target,
      objective: track.objective,
      value: track.value,
      windowMs: objective.slo.window_ms,
      requests: objective.requests,
      state: track.state,
      at: now,
    };
    return this.#dispatcher.dispatch(alert);
  }

  #describe(objective: Objective, track: IndicatorTrack): object {
    return { slo: objective.slo.name, ...objective.target, indicator: track.indicator.name, value: roundValue(track.indicator.unit, track.value), objective: track.objective, requests: objective.requests };
  }
}

function overallState(tracks: readonly IndicatorTrack[]): IndicatorStateName {
  if (tracks.some((t) => t.state === 'violated')) return 'violated';
  return tracks.some((t) => t.state === 'ok') ? 'ok' : 'insufficient_data';
}
