/**
 * The model registry: a request's `model` → the group of targets that can serve it, with the
 * group's strategy and policies. A name is a configured group, or `<provider-id>/<upstream-model>`
 * to address one provider directly. Targets (deployments) are shared between groups.
 */
import type { CoalesceMode, GroupCacheConfig } from '../config/cache-schema.js';
import { DEPLOYMENT_KEYS, type Config } from '../config/schema.js';
import type { HedgeConfig, RetryConfig, TargetConfig } from '../config/routing-schema.js';
import type { Provider } from '../providers/registry.js';
import { lookupModel } from './catalog.js';
import { createStrategy, type Strategy } from './strategies.js';
import { RoutingTarget, groupMember, type GroupMember, type TargetHooks } from './target.js';

export interface RetryPolicy {
  maxRetries: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** 0 = none. */
  deadlineMs: number;
  maxRetryAfterMs: number;
}

export interface HedgePolicy {
  /** A fixed delay, or `p95` of the running target's first-byte times. */
  delayMs: number | 'p95';
  minDelayMs: number;
  maxExtra: number;
}

export interface ModelGroup {
  name: string;
  /** Whether this group was configured (false: direct `<provider>/<model>` addressing). */
  configured: boolean;
  members: GroupMember[];
  strategy: Strategy;
  fallbacks: readonly string[];
  contextWindowFallbacks: readonly string[];
  contentPolicyFallbacks: readonly string[];
  retry: RetryPolicy;
  hedge: HedgePolicy | undefined;
  /** The group's response caching, if configured. */
  cache: GroupCacheConfig | undefined;
  coalesce: CoalesceMode;
}

/** Most direct-addressing groups remembered (client-chosen names must not grow memory). */
const MAX_DIRECT_GROUPS = 1000;

export class ModelRegistry {
  readonly #groups = new Map<string, ModelGroup>();
  readonly #providers: Map<string, Provider>;
  readonly #targets = new Map<string, RoutingTarget>();
  readonly #direct = new Map<string, ModelGroup>();
  readonly #config: Config;
  readonly #hooks: TargetHooks;

  constructor(config: Config, providers: Map<string, Provider>, hooks: Partial<TargetHooks> = {}) {
    this.#config = config;
    this.#providers = providers;
    const breaker = config.routing.circuit_breaker;
    this.#hooks = {
      statsWindowMs: config.routing.stats_window_ms,
      breaker: breaker.enabled
        ? { failureRateThreshold: breaker.failure_rate, minimumRequests: breaker.minimum_requests, windowMs: breaker.window_ms, cooldownMs: breaker.cooldown_ms, halfOpenProbes: breaker.half_open_probes }
        : undefined,
      ...hooks,
    };
    const deployments = deploymentSettings(config);
    for (const [name, group] of Object.entries(config.models)) {
      const members = group.targets.map((t) => groupMember(this.#target(t.provider, t.model, deployments.get(`${t.provider}/${t.model}`)), t.weight));
      this.#groups.set(name, {
        name,
        configured: true,
        members,
        strategy: createStrategy(group.strategy),
        fallbacks: group.fallbacks,
        contextWindowFallbacks: group.context_window_fallbacks,
        contentPolicyFallbacks: group.content_policy_fallbacks,
        retry: retryPolicy(config.routing.retry, group.retry),
        hedge: group.hedge ? hedgePolicy(group.hedge) : undefined,
        cache: group.cache,
        coalesce: group.coalesce,
      });
    }
  }

  /** The target already known for a provider and upstream model (it served a request), or undefined. */
  knownTarget(providerId: string, model: string): RoutingTarget | undefined {
    return this.#targets.get(`${providerId}/${model}`);
  }

  /** The group for a model name, or undefined if nothing serves it. */
  resolve(model: string): ModelGroup | undefined {
    const group = this.#groups.get(model) ?? this.#direct.get(model);
    if (group) return group;
    const slash = model.indexOf('/');
    if (slash <= 0 || slash === model.length - 1 || !isPlainPath(model.slice(slash + 1))) return undefined;
    const providerId = model.slice(0, slash);
    if (!this.#providers.has(providerId)) return undefined;
    const target = this.#target(providerId, model.slice(slash + 1));
    const direct: ModelGroup = {
      name: model,
      configured: false,
      members: [groupMember(target, 1)],
      strategy: createStrategy('fallback'),
      fallbacks: [],
      contextWindowFallbacks: [],
      contentPolicyFallbacks: [],
      retry: retryPolicy(this.#config.routing.retry, undefined),
      hedge: undefined,
      cache: undefined,
      coalesce: 'auto',
    };
    if (this.#direct.size >= MAX_DIRECT_GROUPS) this.#forgetDirect();
    this.#direct.set(model, direct);
    return direct;
  }

  /** A configured group by name (fallbacks and rules name only configured groups). */
  group(name: string): ModelGroup | undefined {
    return this.#groups.get(name);
  }

  /** Configured group names, in config order (what `GET /v1/models` lists). */
  groupNames(): string[] {
    return [...this.#groups.keys()];
  }

  providerIds(): string[] {
    return [...this.#providers.keys()];
  }

  /** The configured groups that list a target. */
  groupsOf(target: RoutingTarget): string[] {
    const names: string[] = [];
    for (const group of this.#groups.values()) if (group.members.some((m) => m.target === target)) names.push(group.name);
    return names;
  }

  providerType(id: string): string {
    return this.#config.providers[id]?.type ?? 'unknown';
  }

  /** Targets that configured groups list (what active health checks probe). */
  configuredTargets(): RoutingTarget[] {
    return this.targets().filter((t) => t.configured);
  }

  /** Every target known so far: configured ones first, then those reached by direct addressing. */
  targets(): RoutingTarget[] {
    return [...this.#targets.values()];
  }

  /** The deployment for provider + model, made on first use and then shared. */
  #target(providerId: string, model: string, settings?: DeploymentSettings): RoutingTarget {
    const key = `${providerId}/${model}`;
    const known = this.#targets.get(key);
    if (known) return known;
    const providerConfig = this.#config.providers[providerId];
    const preset = providerConfig && 'preset' in providerConfig ? providerConfig.preset : undefined;
    const info = lookupModel(providerConfig?.type ?? 'unknown', preset, model, settings);
    const target = new RoutingTarget(
      providerId,
      this.#providers.get(providerId)!,
      model,
      {
        configured: settings !== undefined,
        region: settings?.region,
        info,
        limits: {
          maxConcurrency: settings?.max_concurrency,
          maxQueue: settings?.max_queue ?? 0,
          queueTimeoutMs: settings?.queue_timeout_ms ?? 5_000,
          rpm: settings?.rpm,
          tpm: settings?.tpm,
        },
      },
      this.#hooks,
    );
    this.#targets.set(key, target);
    return target;
  }

  /** Drops the direct groups and the targets only they used. */
  #forgetDirect(): void {
    for (const [key, target] of this.#targets) if (!target.configured) this.#targets.delete(key);
    this.#direct.clear();
  }
}

type DeploymentSettings = Pick<TargetConfig, (typeof DEPLOYMENT_KEYS)[number]>;

/** Each deployment's settings, merged over the groups that list it (the schema rules out conflicts). */
function deploymentSettings(config: Config): Map<string, DeploymentSettings> {
  const merged = new Map<string, DeploymentSettings>();
  for (const group of Object.values(config.models)) {
    for (const target of group.targets) {
      const id = `${target.provider}/${target.model}`;
      const settings: Record<string, unknown> = merged.get(id) ?? {};
      for (const key of DEPLOYMENT_KEYS) if (settings[key] === undefined && target[key] !== undefined) settings[key] = target[key];
      merged.set(id, settings as DeploymentSettings);
    }
  }
  return merged;
}

function retryPolicy(defaults: Config['routing']['retry'], group: RetryConfig | undefined): RetryPolicy {
  return {
    maxRetries: group?.max_retries ?? defaults.max_retries,
    initialBackoffMs: group?.initial_backoff_ms ?? defaults.initial_backoff_ms,
    maxBackoffMs: group?.max_backoff_ms ?? defaults.max_backoff_ms,
    deadlineMs: group?.deadline_ms ?? defaults.deadline_ms,
    maxRetryAfterMs: group?.max_retry_after_ms ?? defaults.max_retry_after_ms,
  };
}

function hedgePolicy(hedge: HedgeConfig): HedgePolicy {
  return { delayMs: hedge.delay_ms, minDelayMs: hedge.min_delay_ms, maxExtra: hedge.max_extra };
}

/**
 * A model name whose `/`-separated segments are all names: none empty, `.` or `..`. Gemini, Vertex,
 * Bedrock and Azure put the model in the URL path, where `..` would leave the provider's base path.
 */
export function isPlainPath(model: string): boolean {
  for (const segment of model.split('/')) if (segment === '' || segment === '.' || segment === '..') return false;
  return true;
}
