/**
 * Route: a request's `model` → the model group that serves it (content-based rules first, then
 * the name), and the route plan the executor follows (routing/plan.ts).
 */
import type { RequestContext } from '../gateway/context.js';
import { GatewayError } from '../gateway/errors.js';
import { messageText } from '../gateway/message-text.js';
import type { ChatRequest } from '../gateway/types.js';
import { isPlainPath, type ModelGroup, type ModelRegistry } from './models.js';
import { needsOf, PromptSize } from './needs.js';
import { RoutePlan, type RouteConstraints } from './plan.js';
import { compileRules, type CompiledRules, type RoutingRuleConfig, type RuleInput, type RuleMatch } from './rules.js';

/** What the HTTP layer knows about a request beyond its body: headers and metadata tags. */
export interface RouteHints {
  constraints: RouteConstraints;
  metadata: Readonly<Record<string, string>>;
  header(name: string): string | undefined;
}

export const NO_HINTS: RouteHints = { constraints: {}, metadata: {}, header: () => undefined };

export class Router {
  readonly #rules: CompiledRules;

  constructor(
    readonly models: ModelRegistry,
    rules: readonly RoutingRuleConfig[],
  ) {
    this.#rules = compileRules(rules);
  }

  /** A chat request (OpenAI chat or Anthropic Messages decoded): rules see its text, targets are filtered by what it needs. */
  chat(request: ChatRequest, rc: RequestContext, hints: RouteHints): RoutePlan {
    const stream = request.stream === true;
    const prompt = new PromptSize(request);
    const needs = needsOf(request, stream);
    const rule = this.#rules.size > 0 ? this.#rules.match(ruleInput(request, stream, prompt, hints, rc)) : undefined;
    const group = rule ? this.#ruleGroup(rule, rc) : this.#resolve(request.model, rc);
    return new RoutePlan(this.models, group, { stream, needs, prompt, constraints: hints.constraints });
  }

  /** A request routed by name only (embeddings, count_tokens): routing rules are for chat requests and do not apply. */
  plain(model: string, rc: RequestContext, hints: RouteHints): RoutePlan {
    return new RoutePlan(this.models, this.#resolve(model, rc), { stream: false, constraints: hints.constraints });
  }

  #ruleGroup(rule: RuleMatch, rc: RequestContext): ModelGroup {
    const group = this.models.group(rule.routeTo)!;
    rc.routeRule = rule.name;
    rc.model = group.name;
    return group;
  }

  #resolve(model: string, rc: RequestContext): ModelGroup {
    const slash = model.indexOf('/');
    if (slash > 0 && !this.models.group(model) && !isPlainPath(model.slice(slash + 1))) {
      // Such a name is never served (it would leave a provider's URL path): say why, not "unknown".
      throw new GatewayError('invalid_request', `The model "${model}" is not a model name: its path segments cannot be empty, "." or "..".`, { param: 'model' });
    }
    const group = this.models.resolve(model);
    if (!group) {
      // A virtual key may be held to some models: the list would show it the others.
      const available = rc.principal?.key ? 'GET /v1/models lists the models this key may use' : `Available models: ${this.models.groupNames().join(', ') || '(none)'}`;
      throw new GatewayError('model_not_found', `The model "${model}" does not exist on this gateway. ${available}; or address a provider directly as "<provider>/<model>".`, { param: 'model' });
    }
    rc.model = group.configured ? group.name : `${group.members[0]!.target.providerId}/*`;
    return group;
  }
}

/** Rule input for a chat request: texts and token counts computed only if a rule asks, then once. */
function ruleInput(request: ChatRequest, stream: boolean, prompt: PromptSize, hints: RouteHints, rc: RequestContext): RuleInput {
  let all: string | undefined;
  let system: string | undefined;
  const principal = rc.principal;
  return {
    key: principal?.key?.id,
    team: principal?.team?.id,
    org: principal?.org?.id,
    model: request.model,
    stream,
    maxTokens: request.max_completion_tokens ?? request.max_tokens ?? undefined,
    prompt: () => (all ??= request.messages.map((m) => messageText(m)).join('\n')),
    system: () => (system ??= request.messages.filter((m) => m.role === 'system' || m.role === 'developer').map((m) => messageText(m)).join('\n')),
    lastUserMessage: () => {
      for (let i = request.messages.length - 1; i >= 0; i--) if (request.messages[i]!.role === 'user') return messageText(request.messages[i]!);
      return '';
    },
    promptTokens: () => prompt.estimate(),
    metadata: hints.metadata,
    header: hints.header,
  };
}
