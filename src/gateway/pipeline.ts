/**
 * The provider-neutral request path (DESIGN.md §1) after ingress decoding: route → execute.
 * Later stages (admission, caching, coalescing) slot in here in order; the HTTP routes only
 * decode, call one of these methods and encode.
 */
import type { CountTokensResponse } from '../providers/anthropic/api.js';
import type { CountTokensCall, Executor, MessagesAnswer, MessagesCall, MessagesStream } from '../routing/executor.js';
import type { ModelRegistry } from '../routing/models.js';
import type { RouteHints, Router } from '../routing/router.js';
import type { RequestContext } from './context.js';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, EmbeddingsRequest, EmbeddingsResponse } from './types.js';

export class Pipeline {
  constructor(
    private readonly router: Router,
    private readonly executor: Executor,
  ) {}

  get models(): ModelRegistry {
    return this.router.models;
  }

  chat(request: ChatRequest, rc: RequestContext, hints: RouteHints): Promise<ChatCompletion> {
    return this.executor.chat(this.router.chat(request, rc, hints), request, rc);
  }

  chatStream(request: ChatRequest, rc: RequestContext, hints: RouteHints): Promise<AsyncIterable<ChatCompletionChunk>> {
    rc.stream = true;
    return this.executor.chatStream(this.router.chat(request, rc, hints), request, rc);
  }

  /** Anthropic's Messages API: natively on targets that speak it, through the canonical format on others. */
  messages(call: MessagesCall, rc: RequestContext, hints: RouteHints): Promise<MessagesAnswer> {
    return this.executor.messages(this.router.chat(call.canonical(), rc, hints), call, rc);
  }

  messagesStream(call: MessagesCall, rc: RequestContext, hints: RouteHints): Promise<MessagesStream> {
    rc.stream = true;
    return this.executor.messagesStream(this.router.chat(call.canonical(), rc, hints), call, rc);
  }

  /**
   * count_tokens: the exact count when the group's first target speaks Anthropic's API (failing
   * over like any request); otherwise the estimate, without calling an upstream.
   */
  countTokens(call: CountTokensCall, rc: RequestContext, hints: RouteHints): Promise<CountTokensResponse> {
    const plan = this.router.plain(call.native.body.model, rc, hints);
    if (!plan.group.members[0]?.target.provider.adapter.messages) return Promise.resolve({ input_tokens: call.estimate() });
    return this.executor.countTokens(plan, call, rc);
  }

  embeddings(request: EmbeddingsRequest, rc: RequestContext, hints: RouteHints): Promise<EmbeddingsResponse> {
    return this.executor.embeddings(this.router.plain(request.model, rc, hints), request, rc);
  }
}
