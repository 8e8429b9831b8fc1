/** Prometheus metrics (prom-client) on a registry of the gateway's own. */
import { Registry, collectDefaultMetrics } from 'prom-client';
import { BoundCounter, BoundHistogram } from './bound-metrics.js';
import type { Usage } from '../gateway/types.js';

/** What one finished request contributes to the metrics. */
export interface RequestOutcome {
  route: string;
  model: string;
  provider: string;
  status: number;
  totalMs: number;
  /** Omitted when no upstream was called (the overhead is then not meaningful). */
  overheadMs?: number;
  firstByteMs?: number;
  usage?: Usage;
}

interface SeriesChildren {
  requests: { inc(value?: number): void };
  duration: { observe(value: number): void };
  overhead: { observe(value: number): void };
  firstByte: { observe(value: number): void };
  promptTokens: { inc(value?: number): void };
  completionTokens: { inc(value?: number): void };
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Overhead is sub-millisecond when healthy: fine buckets there. */
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new BoundCounter({
    name: 'switchyard_requests_total',
    help: 'Requests answered, by route, model group, provider and HTTP status.',
    labelNames: ['route', 'model', 'provider', 'status'] as const,
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
    help: "Time the gateway itself added: total time minus time waiting on the upstream.",
    labelNames: ['route', 'model', 'provider'] as const,
    buckets: OVERHEAD_BUCKETS,
    registers: [this.registry],
  });
  readonly timeToFirstByte = new BoundHistogram({
    name: 'switchyard_stream_first_byte_seconds',
    help: 'Streaming requests: time from arrival to the first chunk sent to the client.',
    labelNames: ['model', 'provider'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly tokens = new BoundCounter({
    name: 'switchyard_tokens_total',
    help: 'Tokens reported by upstreams, by model group, provider and kind (prompt / completion).',
    labelNames: ['model', 'provider', 'kind'] as const,
    registers: [this.registry],
  });
  /** Bound series per (route, model, provider, status): an update is then an addition. */
  readonly #series = new Map<string, SeriesChildren>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'switchyard_' });
  }

  record(outcome: RequestOutcome): void {
    const { route, model, provider } = outcome;
    const status = String(outcome.status);
    const key = `${route}\u0000${model}\u0000${provider}\u0000${status}`;
    let series = this.#series.get(key);
    if (!series) {
      series = {
        requests: this.requests.labels(route, model, provider, status),
        duration: this.duration.labels(route, model, provider, status),
        overhead: this.overhead.labels(route, model, provider),
        firstByte: this.timeToFirstByte.labels(model, provider),
        promptTokens: this.tokens.labels(model, provider, 'prompt'),
        completionTokens: this.tokens.labels(model, provider, 'completion'),
      };
      this.#series.set(key, series);
    }
    series.requests.inc();
    series.duration.observe(outcome.totalMs / 1000);
    if (outcome.overheadMs !== undefined) series.overhead.observe(outcome.overheadMs / 1000);
    if (outcome.firstByteMs !== undefined) series.firstByte.observe(outcome.firstByteMs / 1000);
    if (outcome.usage) {
      series.promptTokens.inc(outcome.usage.prompt_tokens || 0);
      series.completionTokens.inc(outcome.usage.completion_tokens || 0);
    }
  }
}
