/**
 * The provider-neutral request path (DESIGN.md §1) after ingress decoding: route → cache →
 * coalesce → execute → store. The HTTP routes only decode, call one of these methods and encode.
 *
 * The group is chosen first (routing rules may pick it), because caching is configured per
 * group: a hit answers before any upstream call, a miss goes upstream — shared with identical
 * requests in flight where coalescing applies — and a complete answer is stored in the background.
 */
import { missStatus, type CacheDirective } from '../cache/directive.js';
import type { EntryMeta } from '../cache/entry.js';
import { chatCacheKey } from '../cache/key.js';
import { MessageAssembler, messageEvents } from '../cache/message-replay.js';
import { CompletionAssembler } from '../cache/completion-assembler.js';
import { completionChunks } from '../cache/replay.js';
import type { CacheHit, CachePlan, ResponseCache } from '../cache/response-cache.js';
import { MAX_END_USER_LENGTH } from '../governance/types.js';
import { costUsd } from '../governance/cost.js';
import { encodeMessage } from '../formats/anthropic-messages/encode-response.js';
import type { CountTokensResponse, Message, StreamEvent } from '../providers/anthropic/api.js';
import type { NativeStreamEvent } from '../providers/types.js';
import type { CountTokensCall, Executor, MessagesAnswer, MessagesCall, MessagesStream } from '../routing/executor.js';
import type { ModelRegistry } from '../routing/models.js';
import { isRestricted, restrictionKey, type RouteConstraints, type RoutePlan } from '../routing/plan.js';
import type { RouteHints, Router } from '../routing/router.js';
import type { AdmissionStage } from './admission-stage.js';
import type { RequestContext } from './context.js';
import { noteStreamItem } from './answer-notes.js';
import { GatewayError } from './errors.js';
import { jsonTextOnly, toJson } from './raw-json.js';
import type { SharedCalls } from './shared-calls.js';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, EmbeddingsRequest, EmbeddingsResponse } from './types.js';

export interface PipelineOptions {
  cache?: ResponseCache;
  shared?: SharedCalls;
  admission?: AdmissionStage;
}

export class Pipeline {
  private readonly cache: ResponseCache | undefined;
  private readonly shared: SharedCalls | undefined;
  private readonly admission: AdmissionStage | undefined;

  constructor(
    private router: Router,
    private readonly executor: Executor,
    options: PipelineOptions = {},
  ) {
    this.cache = options.cache;
    this.shared = options.shared;
    this.admission = options.admission;
  }

  get models(): ModelRegistry {
    return this.router.models;
  }

  /** A reloaded configuration's routing: requests already routed keep the router they started with. */
  useRouter(router: Router): void {
    this.router = router;
  }

  /** The configured model groups the principal may use (all of them without governance). */
  visibleModels(principal: RequestContext['principal']): string[] {
    return this.router.models.groupNames().filter((name) => this.mayUse(principal, name));
  }

  /** Whether the principal's levels allow the model (a group name or `<provider>/<model>`). */
  mayUse(principal: RequestContext['principal'], model: string, direct = false): boolean {
    return this.admission?.mayUse(principal, model, direct) ?? true;
  }

  /** A cache hit comes back as JSON text only (raw-json.ts `jsonTextOnly`): send it with `toJson`. */
  async chat(request: ChatRequest, rc: RequestContext, hints: RouteHints, directive: CacheDirective): Promise<ChatCompletion> {
    const plan = await this.routeChat(request, rc, hints);
    const cachePlan = this.planChat(request, plan, rc, directive);
    if (cachePlan) {
      const hit = await this.cache!.lookup(cachePlan);
      if (hit) return jsonTextOnly<ChatCompletion>(this.served(hit, rc));
    }
    if (directive.onlyIfCached) throw notCached();
    const call = async (flight: RequestContext): Promise<ChatCompletion> => {
      const completion = await this.executor.chat(plan, request, flight);
      const json = cachePlan?.write ? wholeCompletionJson(completion) : undefined;
      if (json !== undefined) this.cache!.save(cachePlan!, this.entryMeta(flight), json);
      return completion;
    };
    const key = this.coalesceKey(request, plan, cachePlan, rc.rawBody, directive);
    return key === undefined ? call(rc) : this.shared!.answer(key, rc, call);
  }

  async chatStream(request: ChatRequest, rc: RequestContext, hints: RouteHints, directive: CacheDirective): Promise<AsyncIterable<ChatCompletionChunk>> {
    rc.stream = true;
    const plan = await this.routeChat(request, rc, hints);
    const cachePlan = this.planChat(request, plan, rc, directive);
    if (cachePlan) {
      const hit = await this.cache!.lookup(cachePlan);
      if (hit) return replay(completionChunks(JSON.parse(this.served(hit, rc)) as ChatCompletion, { includeUsage: true }), rc);
    }
    if (directive.onlyIfCached) throw notCached();
    const start = async (flight: RequestContext): Promise<AsyncIterable<ChatCompletionChunk>> => {
      const chunks = await this.executor.chatStream(plan, request, flight);
      return cachePlan?.write ? this.storingChunks(chunks, cachePlan, flight, wholeCompletionJson) : chunks;
    };
    const key = this.coalesceKey(request, plan, cachePlan, rc.rawBody, directive);
    return key === undefined ? start(rc) : this.shared!.stream(key, rc, start);
  }

  /**
   * Anthropic's Messages API: natively on targets that speak it, through the canonical format on
   * others. A hit is a native answer whose message is JSON text only.
   */
  async messages(call: MessagesCall, rc: RequestContext, hints: RouteHints, directive: CacheDirective): Promise<MessagesAnswer> {
    const plan = await this.routeMessages(call, rc, hints);
    const cachePlan = this.planMessages(call, plan, rc, directive);
    if (cachePlan) {
      const hit = await this.cache!.lookup(cachePlan);
      if (hit) return { kind: 'native', answer: { message: jsonTextOnly<Message>(this.served(hit, rc)) } };
    }
    if (directive.onlyIfCached) throw notCached();
    const answer = await this.executor.messages(plan, call, rc);
    if (cachePlan?.write) {
      const json = answer.kind === 'native' ? wholeMessageJson(answer.answer.message) : wholeCompletionAsMessage(answer.completion, call);
      if (json !== undefined) this.cache!.save(cachePlan, this.entryMeta(rc), json);
    }
    return answer;
  }

  async messagesStream(call: MessagesCall, rc: RequestContext, hints: RouteHints, directive: CacheDirective): Promise<MessagesStream> {
    rc.stream = true;
    const plan = await this.routeMessages(call, rc, hints);
    const cachePlan = this.planMessages(call, plan, rc, directive);
    if (cachePlan) {
      const hit = await this.cache!.lookup(cachePlan);
      if (hit) return { kind: 'native', events: replay(messageEvents(JSON.parse(this.served(hit, rc)) as Message).map(nativeEvent), rc) };
    }
    if (directive.onlyIfCached) throw notCached();
    const stream = await this.executor.messagesStream(plan, call, rc);
    if (!cachePlan?.write) return stream;
    if (stream.kind === 'native') return { kind: 'native', events: this.storingEvents(stream.events, cachePlan, rc) };
    return { kind: 'canonical', chunks: this.storingChunks(stream.chunks, cachePlan, rc, (completion) => wholeCompletionAsMessage(completion, call)) };
  }

  /**
   * count_tokens: the exact count when the group's first target speaks Anthropic's API (failing
   * over like any request); otherwise the estimate, without calling an upstream.
   */
  async countTokens(call: CountTokensCall, rc: RequestContext, hints: RouteHints): Promise<CountTokensResponse> {
    rc.endUser = messagesEndUser(call.native.body);
    hints = this.admission ? this.admission.constrain(rc, hints) : hints;
    const plan = this.router.plain(call.native.body.model, rc, hints);
    await this.admission?.admit(rc, plan, { promptTokens: () => 0, maxOutputTokens: 0, free: true });
    if (!plan.group.members[0]?.target.provider.adapter.messages) return Promise.resolve({ input_tokens: call.estimate() });
    return this.executor.countTokens(plan, call, rc);
  }

  /** Like `chat`, a hit is JSON text only. */
  async embeddings(request: EmbeddingsRequest, rc: RequestContext, hints: RouteHints, directive: CacheDirective): Promise<EmbeddingsResponse> {
    rc.endUser = endUserOf(request.user, 'user');
    hints = this.admission ? this.admission.constrain(rc, hints) : hints;
    const plan = this.router.plain(request.model, rc, hints);
    await this.admission?.admit(rc, plan, { promptTokens: () => embeddingInputTokens(request.input, estimateTextTokens), promptTokensBound: () => embeddingInputTokens(request.input, utf8Bytes), maxOutputTokens: 0 });
    const cachePlan = this.cache?.planEmbeddings(request, plan.group, directive, rc.rawBody, restrictionKey(plan.constraints));
    noteCachePlan(rc, cachePlan, directive);
    if (cachePlan) {
      const hit = await this.cache!.lookup(cachePlan);
      if (hit) return jsonTextOnly<EmbeddingsResponse>(this.served(hit, rc));
    }
    if (directive.onlyIfCached) throw notCached();
    const response = await this.executor.embeddings(plan, request, rc);
    if (cachePlan) this.cache!.save(cachePlan, this.entryMeta(rc), toJson(response));
    return response;
  }

  /** route + admit for a chat request. */
  private async routeChat(request: ChatRequest, rc: RequestContext, hints: RouteHints): Promise<RoutePlan> {
    rc.endUser = endUserOf(request.user, 'user');
    if (!this.admission) return this.router.chat(request, rc, hints);
    const plan = this.router.chat(request, rc, this.admission.constrain(rc, hints));
    await this.admission.admit(rc, plan, { promptTokens: () => plan.promptTokens(), promptTokensBound: () => plan.promptTokensBound(), maxOutputTokens: plan.maxOutputTokens() });
    return plan;
  }

  /** route + admit for a Messages request. */
  private async routeMessages(call: MessagesCall, rc: RequestContext, hints: RouteHints): Promise<RoutePlan> {
    rc.endUser = messagesEndUser(call.native.body);
    if (!this.admission) return this.router.chat(call.canonical(), rc, hints);
    const plan = this.router.chat(call.canonical(), rc, this.admission.constrain(rc, hints));
    await this.admission.admit(rc, plan, { promptTokens: () => plan.promptTokens(), promptTokensBound: () => plan.promptTokensBound(), maxOutputTokens: plan.maxOutputTokens() });
    return plan;
  }

  /** The request's cache plan (undefined: caching does not apply); sets the MISS / REFRESH / BYPASS status. */
  private planChat(request: ChatRequest, plan: RoutePlan, rc: RequestContext, directive: CacheDirective): CachePlan | undefined {
    const cachePlan = this.cache?.planChat(request, plan.group, directive, rc.rawBody, restrictionKey(plan.constraints));
    noteCachePlan(rc, cachePlan, directive);
    return cachePlan;
  }

  /** Fills the request's context from a hit; returns the answer's JSON text. */
  private served(hit: CacheHit, rc: RequestContext): string {
    rc.cache = hit.status;
    // The entry served, which DELETE /v1/cache?key= removes (a semantic hit's is another request's).
    rc.cacheKey = hit.key;
    rc.cacheAgeSeconds = hit.ageSeconds;
    rc.cacheSimilarity = hit.similarity;
    rc.providerId = hit.meta.provider;
    rc.upstreamModel = hit.meta.model;
    rc.usage = hit.meta.usage;
    return hit.json;
  }

  /**
   * The key identical requests in flight share, when coalescing applies: `auto` coalesces only
   * requests whose answer would not differ anyway (temperature 0 or a seed, one choice); `always`
   * every request of the group; `off` none. Requests that narrow routing are not coalesced, nor
   * those that asked the cache for nothing (bypass, no-store): such a request leading a shared call
   * would keep the others' answer out of the cache, and it asked for an answer of its own.
   */
  private coalesceKey(request: ChatRequest, plan: RoutePlan, cachePlan: CachePlan | undefined, rawBody: Buffer | undefined, directive: CacheDirective): string | undefined {
    const group = plan.group;
    // The plan's constraints: the request's headers and its key's regions alike.
    if (!this.shared || group.coalesce === 'off' || !directive.write || isConstrained(plan.constraints)) return undefined;
    if (group.coalesce === 'auto' && !isDeterministic(request)) return undefined;
    if (cachePlan) return cachePlan.key;
    // One tenant for now; with virtual keys the tenant joins this key as the cache namespace does.
    const compute = () => chatCacheKey(request, { namespace: '', group: group.name, kind: 'chat' });
    return this.cache ? this.cache.memo.key(`coalesce\u0000${group.name}`, rawBody, compute) : compute();
  }

  /**
   * Passes a stream through, and stores it once it completed (not when cut off, failed or
   * abandoned) as `toStored` writes it, if it is an answer worth keeping.
   */
  private async *storingChunks(chunks: AsyncIterable<ChatCompletionChunk>, cachePlan: CachePlan, rc: RequestContext, toStored: (completion: ChatCompletion) => string | undefined): AsyncGenerator<ChatCompletionChunk> {
    const assembler = new CompletionAssembler();
    for await (const chunk of chunks) {
      assembler.push(chunk);
      yield chunk;
    }
    if (!assembler.complete) return;
    const json = toStored(assembler.result());
    if (json !== undefined) this.cache!.save(cachePlan, this.entryMeta(rc), json);
  }

  /** storingChunks for an Anthropic stream passed on natively. */
  private async *storingEvents(events: AsyncIterable<NativeStreamEvent>, cachePlan: CachePlan, rc: RequestContext): AsyncGenerator<NativeStreamEvent> {
    const assembler = new MessageAssembler();
    for await (const event of events) {
      assembler.push(event.value);
      yield event;
    }
    if (!assembler.complete) return;
    const json = wholeMessageJson(assembler.result());
    if (json !== undefined) this.cache!.save(cachePlan, this.entryMeta(rc), json);
  }

  private planMessages(call: MessagesCall, plan: RoutePlan, rc: RequestContext, directive: CacheDirective): CachePlan | undefined {
    const cachePlan = this.cache?.planMessages(call.native.body, call.native.beta, call.canonical, plan.group, directive, rc.rawBody, restrictionKey(plan.constraints));
    noteCachePlan(rc, cachePlan, directive);
    return cachePlan;
  }

  private entryMeta(rc: RequestContext): EntryMeta {
    const price = rc.providerId !== undefined && rc.upstreamModel !== undefined ? this.router.models.knownTarget(rc.providerId, rc.upstreamModel)?.info.price : undefined;
    return { provider: rc.providerId, model: rc.upstreamModel, usage: rc.usage, cost_usd: costUsd(rc.usage, price) };
  }
}

/**
 * The status a request reports until a hit replaces it: MISS / REFRESH / BYPASS where caching
 * applies; BYPASS for a request that asked about caching where none applies; nothing otherwise.
 */
function noteCachePlan(rc: RequestContext, cachePlan: CachePlan | undefined, directive: CacheDirective): void {
  if (cachePlan) {
    rc.cache = missStatus(directive);
    rc.cacheKey = cachePlan.key;
  } else if (directive.explicit) {
    rc.cache = 'BYPASS';
  }
}

function notCached(): GatewayError {
  return new GatewayError('not_cached', 'Nothing is cached for this request, and Cache-Control: only-if-cached forbids asking the upstream.');
}

/** Whether the answer is worth keeping: every choice finished, none withheld by a content filter. */
function isWholeAnswer(completion: ChatCompletion): boolean {
  if (completion.choices.length === 0) return false;
  return completion.choices.every((choice) => choice.finish_reason !== null && choice.finish_reason !== 'content_filter');
}

/** A whole completion's JSON text (as sent: the upstream's own text when known), or undefined. */
function wholeCompletionJson(completion: ChatCompletion): string | undefined {
  return isWholeAnswer(completion) ? toJson(completion) : undefined;
}

/** A canonical answer to a Messages request, as the client received it (Anthropic's message), or undefined. */
function wholeCompletionAsMessage(completion: ChatCompletion, call: MessagesCall): string | undefined {
  if (!isWholeAnswer(completion)) return undefined;
  const { body } = call.native;
  return wholeMessageJson(encodeMessage(completion, { model: body.model, stopSequences: body.stop_sequences }));
}

/** Anthropic stop reasons of an answer that is finished and not a refusal (`pause_turn` is a turn left unfinished). */
const KEPT_STOP_REASONS: ReadonlySet<string> = new Set(['end_turn', 'max_tokens', 'stop_sequence', 'tool_use']);

/** A finished Anthropic message's JSON text, or undefined. */
function wholeMessageJson(message: Message): string | undefined {
  return message.stop_reason !== null && KEPT_STOP_REASONS.has(message.stop_reason) ? toJson(message) : undefined;
}

function nativeEvent(event: StreamEvent): NativeStreamEvent {
  return { name: event.type, data: JSON.stringify(event), value: event as unknown as Record<string, unknown> };
}

/** Whether the client narrowed routing (regions, pins, exclusions, strategy): then it is not like the others. */
function isConstrained(constraints: RouteConstraints): boolean {
  return isRestricted(constraints) || constraints.strategy !== undefined;
}

/** Sampling that gives the same answer to the same request (as far as the provider allows). */
function isDeterministic(request: ChatRequest): boolean {
  if (request.n != null && request.n !== 1) return false;
  return request.temperature === 0 || typeof request.seed === 'number';
}

/** The request's end user (`user`, or `metadata.user_id` on /v1/messages); a string only, refused when too long to be an id. */
function endUserOf(value: unknown, param: string): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (value.length > MAX_END_USER_LENGTH) {
    throw new GatewayError('invalid_request', `'${param}' must be at most ${MAX_END_USER_LENGTH} characters (it identifies the end user), but it has ${value.length}.`, { param });
  }
  return value;
}

/** Anthropic names the end user in `metadata.user_id`. */
function messagesEndUser(body: object): string | undefined {
  return endUserOf((body as { metadata?: { user_id?: unknown } }).metadata?.user_id, 'metadata.user_id');
}

/** Tokens of an embeddings input: texts are measured by `measure`, token arrays are their length. */
function embeddingInputTokens(input: EmbeddingsRequest['input'], measure: (text: string) => number): number {
  const items: unknown[] = Array.isArray(input) ? input : [input];
  let tokens = 0;
  for (const item of items) {
    if (typeof item === 'string') tokens += measure(item);
    else if (Array.isArray(item)) tokens += item.length;
    else if (typeof item === 'number') tokens += 1;
  }
  return tokens;
}

const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');
/** About 4 bytes a token (English with o200k), as PromptSize.estimate. */
const estimateTextTokens = (text: string): number => Math.ceil(utf8Bytes(text) / 4);

/** A cached answer replayed as a stream; its text is kept, as a streamed answer's, when the request log keeps bodies. */
async function* replay<T>(items: T[], rc: RequestContext): AsyncGenerator<T> {
  for (const item of items) {
    if (rc.keepText) noteStreamItem(rc, item);
    yield item;
  }
}
