/**
 * Provider health: `GET /v1/providers` (every provider and its targets) and
 * `GET /v1/providers/:id/health` (one provider). Each target shows its circuit breaker, latency
 * percentiles, error rate, in-flight calls and limits, from the passive statistics every call
 * updates (and the active probes, when enabled).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../../gateway/errors.js';
import type { Principal } from '../../governance/principal.js';
import type { ModelRegistry } from '../../routing/models.js';
import type { RoutingTarget } from '../../routing/target.js';

export interface ProviderRoutesOptions {
  /** The registry in force (a configuration reload replaces it). */
  models: () => ModelRegistry;
  /** Whether the caller's key may use a group, or a provider's model addressed directly. */
  mayUse: (principal: Principal | undefined, model: string, direct: boolean) => boolean;
}

/** What a caller sees of a target: a key held to some models sees only their targets and groups. */
type Visibility = (target: RoutingTarget, groups: string[]) => string[] | undefined;

export function providerRoutes(app: FastifyInstance, { models: current, mayUse }: ProviderRoutesOptions): void {
  const visibility = (request: FastifyRequest): Visibility => {
    const principal = request.principal ?? undefined;
    if (!principal?.key) return (_target, groups) => groups;
    return (target, groups) => {
      const usable = groups.filter((group) => mayUse(principal, group, false));
      const direct = groups.length === 0 && mayUse(principal, `${target.providerId}/${target.model}`, true);
      return usable.length > 0 || direct ? usable : undefined;
    };
  };
  const list = async (request: FastifyRequest) => {
    const models = current();
    return { object: 'list', data: models.providerIds().map((id) => providerHealth(models, id, visibility(request))) };
  };
  const one = async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const models = current();
    const id = request.params.id;
    if (!models.providerIds().includes(id)) {
      throw new GatewayError('route_not_found', `No provider "${id}" on this gateway (known: ${models.providerIds().join(', ') || 'none'}).`);
    }
    return providerHealth(models, id, visibility(request));
  };
  for (const prefix of ['/v1', '']) {
    app.get(`${prefix}/providers`, list);
    app.get<{ Params: { id: string } }>(`${prefix}/providers/:id/health`, one);
  }
}

type Status = 'healthy' | 'degraded' | 'unhealthy' | 'unknown';

function providerHealth(models: ModelRegistry, id: string, visibility: Visibility) {
  const targets = models.targets().filter((t) => t.providerId === id);
  const views = [];
  for (const target of targets) {
    const groups = visibility(target, models.groupsOf(target));
    if (groups) views.push(targetHealth(target, groups));
  }
  return { id, type: targets[0]?.provider.adapter.type ?? models.providerType(id), status: providerStatus(views.map((v) => v.status)), targets: views };
}

function targetHealth(target: RoutingTarget, groups: string[]) {
  const breaker = target.breaker?.snapshot();
  const stats = target.stats.snapshot();
  return {
    model: target.model,
    groups,
    region: target.region ?? null,
    status: targetStatus(target, stats.requests, stats.errorRate),
    circuit_breaker: breaker ? snakeCase(breaker) : null,
    stats: snakeCase(stats),
    limits: target.limiter ? snakeCase(target.limiter.snapshot()) : null,
    context_window: target.info.contextWindow ?? null,
    price_per_million_tokens: target.info.price ? snakeCase(target.info.price) : null,
    probe: target.probe ?? null,
  };
}

/**
 * unhealthy: its breaker is open, or the last active probe failed; degraded: half-open, or at
 * least half of its calls in the window failed; unknown: no calls and no probe yet.
 */
function targetStatus(target: RoutingTarget, requests: number, errorRate: number | null): Status {
  const state = target.breaker?.state;
  if (state === 'open' || target.probe?.ok === false) return 'unhealthy';
  if (state === 'half-open' || (errorRate !== null && errorRate >= 0.5)) return 'degraded';
  if (requests === 0 && !target.probe) return 'unknown';
  return 'healthy';
}

/** The API speaks snake_case (as OpenAI's does); the statistics objects are camelCase inside. */
function snakeCase(value: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? snakeCase(inner as object) : inner;
  }
  return out;
}

function providerStatus(statuses: Status[]): Status {
  if (statuses.length === 0 || statuses.every((s) => s === 'unknown')) return 'unknown';
  if (statuses.every((s) => s === 'unhealthy')) return 'unhealthy';
  if (statuses.some((s) => s === 'unhealthy' || s === 'degraded')) return 'degraded';
  return 'healthy';
}
