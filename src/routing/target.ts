/**
 * A routing target: one upstream deployment (provider + model) with the state that describes it —
 * passive health statistics, a circuit breaker and limits. Groups that list the same provider and
 * model share one target, since they reach the same deployment.
 */
import type { BreakerState } from './health/breaker.js';
import { CircuitBreaker, type BreakerPolicy } from './health/breaker.js';
import { TargetStats } from './health/target-stats.js';
import type { ModelInfo } from './catalog.js';
import { TargetLimiter, type LimiterPolicy } from './target-limiter.js';
import type { Provider } from '../providers/registry.js';

export interface TargetSettings {
  /** Whether config lists it (false: reached by direct `<provider>/<model>` addressing). */
  configured: boolean;
  region?: string;
  info: ModelInfo;
  limits: LimiterPolicy;
}

export interface TargetHooks {
  statsWindowMs: number;
  /** Undefined when circuit breaking is off. */
  breaker?: BreakerPolicy;
  onBreakerTransition?: (target: RoutingTarget, from: BreakerState, to: BreakerState) => void;
  onQueueWait?: (target: RoutingTarget, ms: number) => void;
}

export class RoutingTarget {
  /** `<provider-id>/<model>` */
  readonly key: string;
  readonly stats: TargetStats;
  readonly breaker: CircuitBreaker | undefined;
  /** Undefined when the target has no limits (then admission costs nothing). */
  readonly limiter: TargetLimiter | undefined;
  readonly region: string | undefined;
  readonly info: ModelInfo;
  /** The last active health probe (routing.health_checks), if any ran. */
  probe: { at: string; ok: boolean; latency_ms: number; error?: string } | undefined;
  /** Whether config lists it (false: reached by direct `<provider>/<model>` addressing). */
  readonly configured: boolean;
  /** The model as a metric label: client-chosen names (direct addressing) are `*`, keeping label sets bounded. */
  readonly modelLabel: string;

  constructor(
    readonly providerId: string,
    readonly provider: Provider,
    /** The model name sent upstream. */
    readonly model: string,
    settings: TargetSettings,
    hooks: TargetHooks,
  ) {
    this.key = `${providerId}/${model}`;
    this.region = settings.region;
    this.info = settings.info;
    this.configured = settings.configured;
    this.modelLabel = settings.configured ? model : '*';
    this.stats = new TargetStats({ windowMs: hooks.statsWindowMs });
    this.breaker = hooks.breaker ? new CircuitBreaker(hooks.breaker, { onTransition: (from, to) => hooks.onBreakerTransition?.(this, from, to) }) : undefined;
    const limiter = new TargetLimiter(settings.limits, { onQueueWait: (ms) => hooks.onQueueWait?.(this, ms) });
    this.limiter = limiter.active ? limiter : undefined;
  }

  /** Whether a request restricted to `regions` may go here: the tag equals one, or is inside one (`eu` admits `eu-west-1`). */
  inRegions(regions: readonly string[]): boolean {
    const region = this.region;
    if (region === undefined) return false;
    return regions.some((allowed) => region === allowed || (region.startsWith(allowed) && region.charAt(allowed.length) === '-'));
  }
}

/** A target as one group lists it: the deployment plus the group's own weight for it. */
export interface GroupMember {
  readonly target: RoutingTarget;
  readonly weight: number;
  /** Strategy view (routing/strategies): the target's statistics and price. */
  readonly stats: TargetStats;
  readonly price: ModelInfo['price'];
}

export function groupMember(target: RoutingTarget, weight: number): GroupMember {
  return { target, weight, stats: target.stats, price: target.info.price };
}
