/**
 * Prometheus metrics (prom-client) on a registry of the gateway's own: the per-request series
 * (requests, latency, overhead, time to first token, tokens, cost, refusals, in-flight). Routing,
 * cache, governance, request-log and SLA series register on the same registry where they are
 * kept. Every name is in docs/observability.md's table.
 */
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { BoundCounter, BoundHistogram } from './bound-metrics.js';
import type { Usage } from '../gateway/types.js';

/** What one finished request contributes to the metrics. */
export interface RequestOutcome {
  route: string;
  model: string;
  provider: string;
  /** The upstream model that served (`*` for direct `<provider>/<model>` addressing; '' when none did). */
  upstreamModel: string;
  status: number;
  /** Cache status label: hit, semantic_hit, miss, bypass, refresh or none. */
  cache: string;
  totalMs: number;
  /** Omitted when no upstream was called (the overhead is then not meaningful). */
  overheadMs?: number;
  firstTokenMs?: number;
  /** Tokens the provider reported for this request (none for cache hits and coalesced followers). */
  usage?: Usage;
  /** What it cost in USD (undefined or null: nothing known to add). */
  costUsd?: number | null;
  /** The key's team, counted only when metrics.team_labels is on. */
  team?: string;
  /** The error code of a governance refusal (401, 403, 429, 503 from admission). */
  refusal?: string;
  /** The error code of a streamed answer that failed after its 200 went out (its status label stays 200). */
  streamError?: string;
}

export interface MetricsOptions {
  /** Off: per-request updates are skipped (GET /metrics is not served). */
  enabled?: boolean;
  /** Add a `team` label to tokens and cost. */
  teamLabels?: boolean;
  /** Distinct teams labelled before further ones are counted as `other`. */
  maxTeams?: number;
}

interface Series {
  requests: { inc(value?: number): void };
  duration: { observe(value: number): void };
  overhead: { observe(value: number): void };
  firstToken: { observe(value: number): void };
  /** Tokens and cost of this (model, provider, upstream model), when they are not also per team. */
  spend?: SpendSeries;
}

interface SpendSeries {
  input: { inc(value?: number): void };
  output: { inc(value?: number): void };
  cachedInput: { inc(value?: number): void };
  /** Bound at the first priced answer: an unpriced model gets no cost series (not a 0 one). */
  cost: { inc(value?: number): void } | undefined;
  labels: string[];
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Overhead is sub-millisecond when healthy: fine buckets there. */
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];
/** The error codes admission answers with: counted as refusals. */
export const REFUSAL_CODES: ReadonlySet<string> = new Set(['invalid_api_key', 'access_denied', 'model_not_allowed', 'model_not_priced', 'rate_limit_exceeded', 'budget_exceeded', 'limits_unavailable']);

export class Metrics {
  readonly registry = new Registry();
  readonly enabled: boolean;
  readonly requests = new BoundCounter({
    name: 'switchyard_requests_total',
    help: 'Requests answered, by route, model group, provider, upstream model, HTTP status and cache status.',
    labelNames: ['route', 'model', 'provider', 'upstream_model', 'status', 'cache'] as const,
    registers: [this.registry],
  });
  readonly duration = new BoundHistogram({
    name: 'switchyard_request_duration_seconds',
    help: 'Time from request arrival to the end of the answer, by route, model group, provider and status.',
    labelNames: ['route', 'model', 'provider', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly overhead = new BoundHistogram({
    name: 'switchyard_gateway_overhead_seconds',
    help: 'Time the gateway itself added: total time minus time waiting on the upstream.',
    labelNames: ['route', 'model', 'provider'] as const,
    buckets: OVERHEAD_BUCKETS,
    registers: [this.registry],
  });
  readonly timeToFirstToken = new BoundHistogram({
    name: 'switchyard_time_to_first_token_seconds',
    help: 'Streaming requests: time from arrival to the first chunk sent to the client.',
    labelNames: ['model', 'provider'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly tokens: BoundCounter<string>;
  readonly cost: BoundCounter<string>;
  readonly refusals = new BoundCounter({
    name: 'switchyard_refusals_total',
    help: 'Requests refused by keys, limits and budgets, by error code and model group.',
    labelNames: ['code', 'model'] as const,
    registers: [this.registry],
  });
  readonly streamErrors = new BoundCounter({
    name: 'switchyard_stream_errors_total',
    help: 'Streamed answers that failed after their 200 went out (ended with an error event; switchyard_requests_total counts them under status 200), by route, model group, provider and error code.',
    labelNames: ['route', 'model', 'provider', 'code'] as const,
    registers: [this.registry],
  });
  /** Requests begun and not yet settled, by route; streams open. Read when scraped. */
  readonly #inFlight = new Map<string, number>();
  #streams = 0;
  /** Requests begun and not yet settled, counted with metrics on or off: shutdown waits for them. */
  #unsettled = 0;
  #idleWaiters: Array<() => void> = [];
  /** Bound series per (route, model, provider, upstream model, status, cache): an update is then an addition. */
  readonly #series = new Map<string, Series>();
  readonly #spend = new Map<string, SpendSeries>();
  readonly #teamLabels: boolean;
  readonly #maxTeams: number;
  readonly #teams = new Set<string>();

  constructor(options: MetricsOptions = {}) {
    this.enabled = options.enabled ?? true;
    this.#teamLabels = options.teamLabels ?? false;
    this.#maxTeams = options.maxTeams ?? 100;
    const spendLabels = this.#teamLabels ? (['model', 'provider', 'upstream_model', 'team'] as const) : (['model', 'provider', 'upstream_model'] as const);
    this.tokens = new BoundCounter({
      name: 'switchyard_tokens_total',
      help: 'Tokens reported by upstreams, by model group, provider, upstream model and kind (input, output, cached_input: the part of input read from the provider\'s prompt cache).',
      labelNames: [...spendLabels, 'kind'],
      registers: [this.registry],
    });
    this.cost = new BoundCounter({
      name: 'switchyard_cost_usd_total',
      help: 'What answers cost in USD at the providers\' prices, by model group, provider and upstream model (models with a known price).',
      labelNames: spendLabels,
      registers: [this.registry],
    });
    const inFlight = this.#inFlight;
    new Gauge({
      name: 'switchyard_in_flight_requests',
      help: 'Requests being answered, by route.',
      labelNames: ['route'] as const,
      registers: [this.registry],
      collect() {
        for (const [route, count] of inFlight) this.set({ route }, count);
      },
    });
    const streams = (): number => this.#streams;
    new Gauge({
      name: 'switchyard_in_flight_streams',
      help: 'Streamed answers being sent.',
      registers: [this.registry],
      collect() {
        this.set(streams());
      },
    });
    // The process metrics' event-loop monitor runs all the time: only when someone can scrape it.
    if (this.enabled) collectDefaultMetrics({ register: this.registry, prefix: 'switchyard_' });
  }

  /** A request began (paired with record()). */
  begin(route: string): void {
    this.#unsettled++;
    if (!this.enabled) return;
    this.#inFlight.set(route, (this.#inFlight.get(route) ?? 0) + 1);
  }

  /**
   * Resolves once every request begun has been settled (its spend row and log entry handed on),
   * or after `timeoutMs`: shutdown calls it before flushing the writers, so a stream cut at the
   * end of the grace period is still recorded.
   */
  whenSettled(timeoutMs: number): Promise<void> {
    if (this.#unsettled === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.#idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** A streamed answer began sending (paired with streamEnded()). */
  streamStarted(): void {
    this.#streams++;
  }

  streamEnded(): void {
    this.#streams--;
  }

  /** A request ended; `begun` says whether begin() counted it in flight. */
  record(outcome: RequestOutcome, begun = false): void {
    if (begun && --this.#unsettled === 0 && this.#idleWaiters.length > 0) for (const wake of this.#idleWaiters.splice(0)) wake();
    if (!this.enabled) return;
    const { route, model, provider, upstreamModel, cache } = outcome;
    if (begun) this.#inFlight.set(route, (this.#inFlight.get(route) ?? 1) - 1);
    const status = String(outcome.status);
    const key = `${route}\u0000${model}\u0000${provider}\u0000${upstreamModel}\u0000${status}\u0000${cache}`;
    let series = this.#series.get(key);
    if (!series) {
      series = {
        requests: this.requests.labels(route, model, provider, upstreamModel, status, cache),
        duration: this.duration.labels(route, model, provider, status),
        overhead: this.overhead.labels(route, model, provider),
        firstToken: this.timeToFirstToken.labels(model, provider),
      };
      this.#series.set(key, series);
    }
    series.requests.inc();
    series.duration.observe(outcome.totalMs / 1000);
    if (outcome.overheadMs !== undefined) series.overhead.observe(outcome.overheadMs / 1000);
    if (outcome.firstTokenMs !== undefined) series.firstToken.observe(outcome.firstTokenMs / 1000);
    if (outcome.refusal !== undefined) this.refusals.labels(outcome.refusal, model).inc();
    if (outcome.streamError !== undefined) this.streamErrors.labels(route, model, provider, outcome.streamError).inc();
    const usage = outcome.usage;
    const cost = outcome.costUsd;
    if (usage === undefined && !cost) return;
    // Per team the series depend on the team too; otherwise they are this series' own, found once.
    const spend = this.#teamLabels ? this.#spendSeries(model, provider, upstreamModel, outcome.team) : (series.spend ??= this.#spendSeries(model, provider, upstreamModel, undefined));
    if (usage) {
      spend.input.inc(usage.prompt_tokens || 0);
      spend.output.inc(usage.completion_tokens || 0);
      const cached = usage.prompt_tokens_details?.cached_tokens;
      if (cached) spend.cachedInput.inc(cached);
    }
    if (cost) (spend.cost ??= this.cost.labels(...spend.labels)).inc(cost);
  }

  #spendSeries(model: string, provider: string, upstreamModel: string, team: string | undefined): SpendSeries {
    const teamLabel = this.#teamLabels ? this.#teamLabel(team) : undefined;
    const key = `${model}\u0000${provider}\u0000${upstreamModel}\u0000${teamLabel ?? ''}`;
    let spend = this.#spend.get(key);
    if (!spend) {
      const labels = teamLabel === undefined ? [model, provider, upstreamModel] : [model, provider, upstreamModel, teamLabel];
      spend = {
        input: this.tokens.labels(...labels, 'input'),
        output: this.tokens.labels(...labels, 'output'),
        cachedInput: this.tokens.labels(...labels, 'cached_input'),
        cost: undefined,
        labels,
      };
      this.#spend.set(key, spend);
    }
    return spend;
  }

  /** A team's label: its id, `none` without one, `other` once max_teams distinct ones were seen. */
  #teamLabel(team: string | undefined): string {
    if (team === undefined) return 'none';
    if (this.#teams.has(team)) return team;
    if (this.#teams.size >= this.#maxTeams) return 'other';
    this.#teams.add(team);
    return team;
  }
}
