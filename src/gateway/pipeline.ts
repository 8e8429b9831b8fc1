/**
 * The provider-neutral request path (DESIGN.md §1) after ingress decoding: route → execute.
 * Later stages (admission, caching, coalescing) slot in here in order; the HTTP routes only
 * decode, call one of these methods and encode.
 */
import type { CountTokensResponse } from '../providers/anthropic/api.js';
import type { CountTokensCall, Executor, MessagesAnswer, MessagesCall, MessagesStream } from '../routing/executor.js';
import type { ModelGroup, ModelRegistry } from '../routing/models.js';
import type { RequestContext } from './context.js';
import { GatewayError } from './errors.js';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, EmbeddingsRequest, EmbeddingsResponse } from './types.js';

export class Pipeline {
  constructor(
    readonly models: ModelRegistry,
    private readonly executor: Executor,
  ) {}

  chat(request: ChatRequest, rc: RequestContext): Promise<ChatCompletion> {
    return this.executor.chat(this.#route(request.model, rc), request, rc);
  }

  chatStream(request: ChatRequest, rc: RequestContext): Promise<AsyncIterable<ChatCompletionChunk>> {
    rc.stream = true;
    return this.executor.chatStream(this.#route(request.model, rc), request, rc);
  }

  /** Anthropic's Messages API: natively on targets that speak it, through the canonical format on others. */
  messages(call: MessagesCall, rc: RequestContext): Promise<MessagesAnswer> {
    return this.executor.messages(this.#route(call.native.body.model, rc), call, rc);
  }

  messagesStream(call: MessagesCall, rc: RequestContext): Promise<MessagesStream> {
    rc.stream = true;
    return this.executor.messagesStream(this.#route(call.native.body.model, rc), call, rc);
  }

  /**
   * count_tokens: the exact count when the group's first target speaks Anthropic's API (failing
   * over like any request); otherwise the estimate, without calling an upstream.
   */
  countTokens(call: CountTokensCall, rc: RequestContext): Promise<CountTokensResponse> {
    const group = this.#route(call.native.body.model, rc);
    if (!group.targets[0]?.provider.adapter.messages) return Promise.resolve({ input_tokens: call.estimate() });
    return this.executor.countTokens(group, call, rc);
  }

  embeddings(request: EmbeddingsRequest, rc: RequestContext): Promise<EmbeddingsResponse> {
    return this.executor.embeddings(this.#route(request.model, rc), request, rc);
  }

  #route(model: string, rc: RequestContext): ModelGroup {
    const group = this.models.resolve(model);
    if (!group) {
      throw new GatewayError('model_not_found', `The model "${model}" does not exist on this gateway. Available models: ${this.models.groupNames().join(', ') || '(none)'}; or address a provider directly as "<provider>/<model>".`, { param: 'model' });
    }
    rc.model = group.configured ? group.name : `${group.targets[0]!.providerId}/*`;
    return group;
  }
}
