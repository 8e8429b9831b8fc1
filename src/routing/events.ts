/**
 * What routing reports as it works — attempts, failovers, retries, fallbacks, hedges, shed
 * requests, breaker transitions, queue waits — as Prometheus metrics, and the failed attempts on
 * the request context for its log line. Label values are bounded: model groups and targets come
 * from config (direct `<provider>/<model>` requests are labelled `<provider>/*`).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BoundCounter, BoundHistogram } from '../observability/bound-metrics.js';
import type { RequestContext } from '../gateway/context.js';
import { isGatewayError } from '../gateway/errors.js';
import type { BreakerState } from './health/breaker.js';
import type { ModelGroup } from './models.js';
import type { RoutingTarget } from './target.js';

export type DivertReason = 'context_window' | 'content_policy';

export interface RoutingEvents {
  served(rc: RequestContext, target: RoutingTarget, ms: number): void;
  attemptFailed(rc: RequestContext, target: RoutingTarget, error: unknown, ms: number): void;
  /** An attempt still running when the request had its answer (a hedge that lost) or gave up. */
  attemptCancelled(rc: RequestContext, target: RoutingTarget): void;
  /** The next target of the same pass is tried after a failure (in the request's group `primary` or a fallback `group`). */
  failover(rc: RequestContext, primary: ModelGroup, group: ModelGroup): void;
  /** A hedged attempt started beside a slow one. */
  hedged(rc: RequestContext, group: ModelGroup, target: RoutingTarget): void;
  retrying(rc: RequestContext, group: ModelGroup, waitMs: number): void;
  diverted(rc: RequestContext, group: ModelGroup, reason: DivertReason): void;
  /**
   * A fallback `group` answered. `reason` when no failover or diversion led there (the asked-for
   * group's targets were skipped: breakers open, excluded, at their limits, or outrun by a hedge).
   */
  fellBack(rc: RequestContext, primary: ModelGroup, group: ModelGroup, reason: 'skipped' | undefined): void;
  shed(rc: RequestContext, target: RoutingTarget): void;
  breakerTransition(target: RoutingTarget, from: BreakerState, to: BreakerState): void;
  queueWait(target: RoutingTarget, ms: number): void;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

export class RoutingMetrics implements RoutingEvents {
  readonly attempts: BoundCounter<'provider' | 'model' | 'outcome'>;
  readonly targetLatency: BoundHistogram<'provider' | 'model' | 'outcome'>;
  readonly failovers: Counter<'model'>;
  readonly fallbacks: Counter<'model' | 'to' | 'reason'>;
  readonly retries: Counter<'model'>;
  readonly hedges: Counter<'model'>;
  readonly shedRequests: Counter<'provider' | 'model'>;
  readonly breakerTransitions: Counter<'provider' | 'model' | 'to'>;
  readonly breakerState: Gauge<'provider' | 'model'>;
  readonly queueWaitSeconds: Histogram<'provider' | 'model'>;
  /** Label children of the success path per target (prom-client hashes label objects on every call otherwise). */
  readonly #served = new WeakMap<RoutingTarget, { attempts: { inc(): void }; latency: { observe(value: number): void } }>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.attempts = new BoundCounter({
      name: 'switchyard_upstream_attempts_total',
      help: 'Attempts against upstream targets, by provider, upstream model and outcome (ok or an error code).',
      labelNames: ['provider', 'model', 'outcome'],
      registers,
    });
    this.targetLatency = new BoundHistogram({
      name: 'switchyard_upstream_latency_seconds',
      help: 'Per-target time until the upstream answered (streams: the first chunk) or failed, by provider, upstream model and outcome.',
      labelNames: ['provider', 'model', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.failovers = new Counter({ name: 'switchyard_failovers_total', help: 'Attempts moved to the next target after a failure, by model group asked for.', labelNames: ['model'], registers });
    this.fallbacks = new Counter({
      name: 'switchyard_fallbacks_total',
      help: 'Requests that moved to another model group, by model group asked for, the group moved to and why (error, context_window, content_policy).',
      labelNames: ['model', 'to', 'reason'],
      registers,
    });
    this.retries = new Counter({ name: 'switchyard_retries_total', help: 'Retry passes after every target had failed, by model group.', labelNames: ['model'], registers });
    this.hedges = new Counter({ name: 'switchyard_hedged_attempts_total', help: 'Hedged attempts started beside a slow one, by model group.', labelNames: ['model'], registers });
    this.shedRequests = new Counter({
      name: 'switchyard_shed_requests_total',
      help: 'Requests refused with 503 because every candidate target was at its limit and the queue was full.',
      labelNames: ['provider', 'model'],
      registers,
    });
    this.breakerTransitions = new Counter({
      name: 'switchyard_circuit_breaker_transitions_total',
      help: 'Circuit breaker state changes, by target and the state entered.',
      labelNames: ['provider', 'model', 'to'],
      registers,
    });
    this.breakerState = new Gauge({ name: 'switchyard_circuit_breaker_state', help: 'Circuit breaker state per target: 0 closed, 1 half-open, 2 open.', labelNames: ['provider', 'model'], registers });
    this.queueWaitSeconds = new Histogram({
      name: 'switchyard_queue_wait_seconds',
      help: 'Time requests waited for a slot at a target with a concurrency limit or rate budget.',
      labelNames: ['provider', 'model'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
  }

  /**
   * Every configured target's breaker shows as closed from the start, not only after its first
   * change; and only these targets' do: a reload drops those of targets no longer configured.
   */
  registerTargets(targets: readonly RoutingTarget[]): void {
    this.breakerState.reset();
    for (const target of targets) if (target.breaker) this.breakerState.set({ provider: target.providerId, model: target.modelLabel }, BREAKER_STATE_VALUE[target.breaker.state]);
  }

  served(_rc: RequestContext, target: RoutingTarget, ms: number): void {
    let series = this.#served.get(target);
    if (!series) {
      series = { attempts: this.attempts.labels(target.providerId, target.modelLabel, 'ok'), latency: this.targetLatency.labels(target.providerId, target.modelLabel, 'ok') };
      this.#served.set(target, series);
    }
    series.attempts.inc();
    series.latency.observe(ms / 1000);
  }

  attemptFailed(rc: RequestContext, target: RoutingTarget, error: unknown, ms: number): void {
    const outcome = isGatewayError(error) ? error.code : 'internal_error';
    this.attempts.labels(target.providerId, target.modelLabel, outcome).inc();
    this.targetLatency.labels(target.providerId, target.modelLabel, 'error').observe(ms / 1000);
    (rc.failedAttempts ??= []).push({ provider: target.providerId, model: target.model, code: outcome, status: isGatewayError(error) ? error.status : 500 });
  }

  attemptCancelled(_rc: RequestContext, target: RoutingTarget): void {
    this.attempts.labels(target.providerId, target.modelLabel, 'cancelled').inc();
  }

  failover(rc: RequestContext, primary: ModelGroup, group: ModelGroup): void {
    const asked = rc.model ?? primary.name;
    if (group !== primary && rc.fallbackGroup !== group.name) {
      // Fallback groups are configured groups: the label stays bounded.
      rc.fallbackGroup = group.name;
      this.fallbacks.inc({ model: asked, to: group.name, reason: 'error' });
    }
    this.failovers.inc({ model: asked });
  }

  hedged(rc: RequestContext, group: ModelGroup): void {
    this.hedges.inc({ model: rc.model ?? group.name });
  }

  retrying(rc: RequestContext, group: ModelGroup): void {
    this.retries.inc({ model: rc.model ?? group.name });
  }

  diverted(rc: RequestContext, group: ModelGroup, reason: DivertReason): void {
    const to = reason === 'context_window' ? group.contextWindowFallbacks[0] : group.contentPolicyFallbacks[0];
    rc.fallbackGroup = to;
    this.fallbacks.inc({ model: rc.model ?? group.name, to: to ?? '', reason });
  }

  fellBack(rc: RequestContext, primary: ModelGroup, group: ModelGroup, reason: 'skipped' | undefined): void {
    rc.fallbackGroup = group.name;
    if (reason) this.fallbacks.inc({ model: rc.model ?? primary.name, to: group.name, reason });
  }

  shed(_rc: RequestContext, target: RoutingTarget): void {
    this.shedRequests.inc({ provider: target.providerId, model: target.modelLabel });
  }

  breakerTransition(target: RoutingTarget, _from: BreakerState, to: BreakerState): void {
    this.breakerTransitions.inc({ provider: target.providerId, model: target.modelLabel, to });
    this.breakerState.set({ provider: target.providerId, model: target.modelLabel }, BREAKER_STATE_VALUE[to]);
  }

  queueWait(target: RoutingTarget, ms: number): void {
    this.queueWaitSeconds.observe({ provider: target.providerId, model: target.modelLabel }, ms / 1000);
  }
}
