/**
 * Which targets a request may go to, in which order. A pass visits the model group's eligible
 * targets in its strategy's order, then its fallback groups' (a group whose targets are all too
 * small for the prompt hands over to its context-window fallbacks first), and last the targets
 * whose circuit breaker is open — skipped while anything else can serve, never ruled out.
 * Eligible means: not excluded by the request (region, pinned or excluded providers) and able to
 * serve it (capabilities from the model catalogue, context window).
 */
import { GatewayError } from '../gateway/errors.js';
import { ASSUMED_OUTPUT_TOKENS, supports, type PromptSize, type RequestNeeds } from './needs.js';
import type { ModelGroup, ModelRegistry } from './models.js';
import type { Strategy } from './strategies.js';
import type { GroupMember, RoutingTarget } from './target.js';

/** Narrowing a request asks for (headers); an empty object narrows nothing. */
export interface RouteConstraints {
  /** Allowed regions (data residency): targets outside them, or without a region tag, are never called. */
  regions?: readonly string[];
  /** Only this provider id. */
  pinProvider?: string;
  excludeProviders?: readonly string[];
  /** Replaces the groups' strategies for this request. */
  strategy?: Strategy;
}

/** Whether the request narrows which targets may answer (regions, a provider pinned or excluded). */
export function isRestricted({ regions, pinProvider, excludeProviders }: RouteConstraints): boolean {
  return regions !== undefined || pinProvider !== undefined || excludeProviders !== undefined;
}

/**
 * The restrictions on which targets may answer, as one string ('' when there are none): requests
 * with different ones must not share a cached or coalesced answer, which another target made. The
 * strategy is left out: it changes the order, not which targets may answer.
 */
export function restrictionKey(constraints: RouteConstraints): string {
  if (!isRestricted(constraints)) return '';
  const { regions, pinProvider, excludeProviders } = constraints;
  return JSON.stringify([regions ? [...regions].sort() : null, pinProvider ?? null, excludeProviders ? [...excludeProviders].sort() : null]);
}

export interface RouteRequest {
  stream: boolean;
  /** Chat requests: what a target must support, and the prompt's size. */
  needs?: RequestNeeds;
  prompt?: PromptSize;
  constraints: RouteConstraints;
}

export interface Candidate {
  readonly target: RoutingTarget;
  readonly group: ModelGroup;
  /** Let through although its breaker is open (nothing else was left). */
  readonly lastResort: boolean;
}

type Exclusion = 'region' | 'provider' | 'capabilities' | 'context';

const NO_TOKENS = { promptTokens: 0, maxOutputTokens: 0 };

export class RoutePlan {
  readonly #registry: ModelRegistry;
  readonly #request: RouteRequest;
  /** Groups a divert (context-window or content-policy fallback) moved the request to. */
  #diverted: readonly string[] | undefined;
  /** Why targets were left out in the last pass (for the error when nothing was eligible). */
  #excluded: Map<string, Exclusion> | undefined;
  /** Each group's order, decided once per request: a retry pass walks it again rather than moving round-robin's turn on. */
  #orders: Map<ModelGroup, readonly GroupMember[]> | undefined;

  constructor(
    registry: ModelRegistry,
    /** The group the request resolved to (after routing rules). */
    readonly group: ModelGroup,
    request: RouteRequest,
  ) {
    this.#registry = registry;
    this.#request = request;
  }

  /** What narrows which targets may serve the request (regions, a provider pinned or excluded, a strategy). */
  get constraints(): RouteConstraints {
    return this.#request.constraints;
  }

  /** Every eligible target once, best first. */
  *pass(): Generator<Candidate, void, undefined> {
    let breakerOpen: Candidate[] | undefined;
    const queue = this.#diverted ? this.#groups(this.#diverted) : [this.group];
    // Groups visited so far (a handful at most: an array beats a Set, and most requests see one group).
    const visited: ModelGroup[] = [];
    // A deployment listed by several groups is one target: called once per pass.
    let seen: Set<RoutingTarget> | undefined;
    for (let i = 0; i < queue.length; i++) {
      const group = queue[i]!;
      if (visited.includes(group)) continue;
      visited.push(group);
      let tooSmall = false;
      let eligible = 0;
      for (const member of this.#order(group)) {
        const why = this.#exclusion(member);
        if (why) {
          (this.#excluded ??= new Map()).set(member.target.key, why);
          if (why === 'context') tooSmall = true;
          continue;
        }
        eligible++;
        const target = member.target;
        if (seen || queue.length > 1 || group.fallbacks.length > 0 || group.contextWindowFallbacks.length > 0) {
          if ((seen ??= new Set()).has(target)) continue;
          seen.add(target);
        }
        if (target.breaker && !target.breaker.isAvailable()) {
          (breakerOpen ??= []).push({ target, group, lastResort: true });
          continue;
        }
        yield { target, group, lastResort: false };
      }
      if (tooSmall && eligible === 0) queue.splice(i + 1, 0, ...this.#groups(group.contextWindowFallbacks));
      queue.push(...this.#groups(group.fallbacks));
    }
    if (breakerOpen) yield* breakerOpen;
  }

  /** Tokens to reserve on targets with a TPM budget: the prompt estimate plus max_tokens (or the assumed output); 0 for requests routed by name only. */
  reservedTokens(): number {
    const { needs, prompt } = this.#request;
    if (!needs || !prompt) return 0;
    return prompt.estimate() + (needs.maxOutputTokens ?? ASSUMED_OUTPUT_TOKENS);
  }

  /** The prompt's estimated tokens (about 4 bytes a token, with allowances) for token rate limits; 0 for requests routed by name only. */
  promptTokens(): number {
    return this.#request.prompt?.estimate() ?? 0;
  }

  /** At least the prompt's tokens by any byte-level tokenizer (its UTF-8 bytes, with allowances), for budget reservations. */
  promptTokensBound(): number {
    return this.#request.prompt?.upperBound() ?? 0;
  }

  /** The output tokens the request reserved (max_tokens), if it said. */
  maxOutputTokens(): number | undefined {
    return this.#request.needs?.maxOutputTokens;
  }

  /** Moves the request to other groups (a content-policy or context-window fallback); later passes visit only them. False when there is nowhere (else) to go. */
  divert(groups: readonly string[]): boolean {
    // Once per request: a diverted request that is refused again must not bounce between groups.
    if (this.#diverted || groups.length === 0) return false;
    this.#diverted = groups;
    return true;
  }

  /** The error for a request no target is eligible for, naming the reasons. */
  nothingEligible(): GatewayError {
    const reasons = new Set(this.#excluded?.values());
    const name = this.group.name;
    if (reasons.size === 1 && reasons.has('context')) {
      return new GatewayError('context_length_exceeded', `The prompt (with max_tokens) does not fit the context window of any target of "${name}" or its context-window fallbacks.`, { param: 'messages' });
    }
    if (reasons.size === 0) return new GatewayError('no_eligible_target', `No target of "${name}" (or its fallbacks) could serve this request.`);
    const parts: string[] = [];
    if (reasons.has('region')) parts.push(`outside the allowed regions (${this.#request.constraints.regions?.join(', ')})`);
    if (reasons.has('provider')) parts.push('excluded by the request\'s provider pin / exclusion headers');
    if (reasons.has('capabilities')) parts.push(`unable to serve it (${describeNeeds(this.#request.needs)})`);
    if (reasons.has('context')) parts.push('too small for the prompt');
    return new GatewayError('no_eligible_target', `No target of "${name}" (or its fallbacks) can serve this request: every one is ${parts.join('; or ')}.`);
  }

  #order(group: ModelGroup): readonly GroupMember[] {
    if (group.members.length === 1) return group.members;
    const decided = this.#orders?.get(group);
    if (decided) return decided;
    const strategy = this.#request.constraints.strategy ?? group.strategy;
    const needs = this.#request.needs;
    const estimate = needs ? { promptTokens: this.#request.prompt?.estimate() ?? 0, maxOutputTokens: needs.maxOutputTokens ?? ASSUMED_OUTPUT_TOKENS } : NO_TOKENS;
    const order = strategy.order(group.members, estimate);
    (this.#orders ??= new Map()).set(group, order);
    return order;
  }

  #exclusion(member: GroupMember): Exclusion | undefined {
    const target = member.target;
    const { regions, pinProvider, excludeProviders } = this.#request.constraints;
    if (regions && !target.inRegions(regions)) return 'region';
    if (pinProvider !== undefined && target.providerId !== pinProvider) return 'provider';
    if (excludeProviders?.includes(target.providerId)) return 'provider';
    const needs = this.#request.needs;
    if (!needs) return undefined;
    if (!supports(target.info, needs)) return 'capabilities';
    const window = target.info.contextWindow;
    if (window !== undefined && this.#request.prompt && !this.#request.prompt.fits(window, needs.maxOutputTokens ?? 0)) return 'context';
    return undefined;
  }

  #groups(names: readonly string[]): ModelGroup[] {
    const groups: ModelGroup[] = [];
    for (const name of names) {
      const group = this.#registry.group(name);
      if (group) groups.push(group);
    }
    return groups;
  }
}

function describeNeeds(needs: RequestNeeds | undefined): string {
  if (!needs) return 'the request';
  const wanted = [needs.tools && 'tools', needs.vision && 'image input', needs.jsonSchema && 'json_schema output', needs.streaming && 'streaming'].filter(Boolean);
  return wanted.length > 0 ? `needs ${wanted.join(', ')}` : 'the request';
}
