/**
 * The pipeline's admit stage: narrows routing to the regions the request's levels allow, then
 * admits it against every level's policies, limits and budgets (governance/admission.ts) and
 * arms its settlement (governance/ledger.ts).
 */
import type { Admitter, PriceBound } from '../governance/admission.js';
import type { Ledger } from '../governance/ledger.js';
import type { Principal } from '../governance/principal.js';
import { LimiterUnavailableError } from '../governance/limits/limiter.js';
import type { ModelGroup, ModelRegistry } from '../routing/models.js';
import type { RoutePlan } from '../routing/plan.js';
import type { RouteHints } from '../routing/router.js';
import { Drains, type RequestContext } from './context.js';
import { GatewayError } from './errors.js';

export interface AdmissionStageOptions {
  admitter: Admitter;
  ledger: Ledger;
  /** governance.drain_timeout_ms */
  drainMs: number;
}

export interface Estimate {
  promptTokens: () => number;
  promptTokensBound?: () => number;
  maxOutputTokens: number | undefined;
  /** Policies only, nothing counted (count_tokens). */
  free?: boolean;
}

export class AdmissionStage {
  readonly #prices = new WeakMap<ModelGroup, PriceBound | null>();
  /** Billed requests whose client left, still reading for their usage (shutdown ends them). */
  readonly drains = new Drains();

  constructor(
    /** The registry in force (a configuration reload replaces it). */
    private readonly models: () => ModelRegistry,
    private readonly options: AdmissionStageOptions,
  ) {}

  /**
   * The hints with routing narrowed to the regions the request's levels allow; a 403 when the
   * client itself asked for regions outside them.
   */
  constrain(rc: RequestContext, hints: RouteHints): RouteHints {
    for (const _ in hints.metadata) {
      rc.tags = hints.metadata;
      break;
    }
    if (!rc.principal) return hints;
    const allowed = this.options.admitter.regions(rc.principal, rc.endUser);
    if (allowed === undefined) return hints;
    const asked = hints.constraints.regions;
    const regions = asked === undefined ? allowed : asked.filter((region) => allowed.includes(region));
    if (regions.length === 0) {
      // A refusal by the levels' policies, as admission's: it counts in spend (as an error).
      rc.ledger = this.options.ledger;
      const where = allowed.length > 0 ? `only from the regions ${allowed.join(', ')}` : 'from no region';
      throw new GatewayError('access_denied', `The policies of this request's key, team, org or end user allow it to be served ${where}${asked ? `, not ${asked.join(', ')}` : ''}.`);
    }
    return { ...hints, constraints: { ...hints.constraints, regions } };
  }

  /** Whether the request's key, team and org may use `model` (GET /v1/models lists only those). */
  mayUse(principal: Principal | undefined, model: string, direct = false): boolean {
    return principal === undefined || this.options.admitter.mayUse(principal, model, direct);
  }

  /** Admits the request (or throws the 403 / 429 / 503 that says why) and arms its settlement. */
  async admit(rc: RequestContext, plan: RoutePlan, estimate: Estimate): Promise<void> {
    // From here on the request counts in spend, refused or served; one the router could not
    // place (an unknown model) never got here, and is in the request log only.
    rc.ledger = this.options.ledger;
    rc.estimatePrompt = estimate.promptTokens;
    if (!rc.principal) return;
    try {
      rc.ticket = await this.options.admitter.admit({
        principal: rc.principal,
        endUser: rc.endUser,
        model: plan.group.name,
        direct: !plan.group.configured,
        promptTokens: estimate.promptTokens,
        promptTokensBound: estimate.promptTokensBound,
        maxOutputTokens: estimate.maxOutputTokens,
        price: this.#priceBound(plan.group),
        free: estimate.free,
      });
    } catch (err) {
      if (err instanceof LimiterUnavailableError) throw new GatewayError('limits_unavailable', 'Limits and budgets cannot be checked right now (their store is unreachable), and this gateway refuses requests then. Retry shortly.', { retryAfterMs: 1000, cause: err });
      throw err;
    }
    // A billed request whose client leaves still runs to its real usage (within bounds).
    if (rc.ticket || rc.principal.key) {
      rc.drainMs = this.options.drainMs;
      rc.drains = this.drains;
    }
  }

  /** The dearest price among every target the group may use (fallback groups included); undefined when one has none. */
  #priceBound(group: ModelGroup): PriceBound | undefined {
    let bound = this.#prices.get(group);
    if (bound === undefined) {
      bound = this.#computeBound(group);
      this.#prices.set(group, bound);
    }
    return bound ?? undefined;
  }

  #computeBound(start: ModelGroup): PriceBound | null {
    const bound: PriceBound = { input: 0, output: 0 };
    const seen = new Set<ModelGroup>();
    const queue = [start];
    while (queue.length > 0) {
      const group = queue.pop()!;
      if (seen.has(group)) continue;
      seen.add(group);
      for (const member of group.members) {
        const price = member.target.info.price;
        if (!price) return null;
        bound.input = Math.max(bound.input, price.input, price.cacheWrite ?? 0);
        bound.output = Math.max(bound.output, price.output);
      }
      for (const name of [...group.fallbacks, ...group.contextWindowFallbacks, ...group.contentPolicyFallbacks]) {
        const fallback = this.models().group(name);
        if (fallback) queue.push(fallback);
      }
    }
    return bound;
  }
}
