/** Prometheus metrics (prom-client) on a registry of the gateway's own. */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Overhead is sub-millisecond when healthy: fine buckets there. */
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'switchyard_requests_total',
    help: 'Requests answered, by route, model group, provider and HTTP status.',
    labelNames: ['route', 'model', 'provider', 'status'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'switchyard_request_duration_seconds',
    help: 'Time from request arrival to the end of the answer, by route, model group, provider and status.',
    labelNames: ['route', 'model', 'provider', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly overhead = new Histogram({
    name: 'switchyard_gateway_overhead_seconds',
    help: "Time the gateway itself added: total time minus time waiting on the upstream.",
    labelNames: ['route', 'model', 'provider'] as const,
    buckets: OVERHEAD_BUCKETS,
    registers: [this.registry],
  });
  readonly timeToFirstByte = new Histogram({
    name: 'switchyard_stream_first_byte_seconds',
    help: 'Streaming requests: time from arrival to the first chunk sent to the client.',
    labelNames: ['model', 'provider'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: 'switchyard_tokens_total',
    help: 'Tokens reported by upstreams, by model group, provider and kind (prompt / completion).',
    labelNames: ['model', 'provider', 'kind'] as const,
    registers: [this.registry],
  });
  readonly upstreamAttempts = new Counter({
    name: 'switchyard_upstream_attempts_total',
    help: 'Attempts against upstream targets, by provider and outcome (ok or an error code).',
    labelNames: ['provider', 'outcome'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'switchyard_' });
  }
}
