/** The `mock` provider: a deterministic fake LLM with configurable latency and streaming speed. */
import { randomUUID } from 'node:crypto';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, EmbeddingsRequest, EmbeddingsResponse } from '../../gateway/types.js';
import type { CallSignal } from '../call-signal.js';
import type { AttemptContext, ProviderAdapter } from '../types.js';
import { preloadTokenizer } from '../../governance/tokens.js';
import { mockEmbeddings } from './embedding.js';
import { planReply, type MockReply } from './reply.js';

export interface MockAdapterOptions {
  id: string;
  latencyMs: number;
  tokensPerSecond: number;
}

export class MockAdapter implements ProviderAdapter {
  readonly id: string;
  readonly type = 'mock';
  readonly #options: MockAdapterOptions;

  constructor(options: MockAdapterOptions) {
    this.id = options.id;
    this.#options = options;
    preloadTokenizer();
  }

  async chat(request: ChatRequest, ctx: AttemptContext): Promise<ChatCompletion> {
    const reply = planReply(request);
    await this.#wait(this.#options.latencyMs, ctx.signal);
    ctx.firstByte();
    await this.#wait(this.#streamTimeMs(reply), ctx.signal);
    const message =
      reply.toolCalls.length > 0
        ? { role: 'assistant', content: null, tool_calls: reply.toolCalls }
        : { role: 'assistant', content: reply.pieces.join('') };
    const choices = Array.from({ length: request.n ?? 1 }, (_, index) => ({ index, message, logprobs: null, finish_reason: reply.finishReason }));
    const usage = { ...reply.usage };
    usage.completion_tokens *= choices.length;
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    return { id: `chatcmpl-${randomUUID()}`, object: 'chat.completion', created: nowSeconds(), model: ctx.upstreamModel, choices, usage };
  }

  async chatStream(request: ChatRequest, ctx: AttemptContext): Promise<AsyncIterable<ChatCompletionChunk>> {
    const reply = planReply(request);
    await this.#wait(this.#options.latencyMs, ctx.signal);
    ctx.firstByte();
    return this.#chunks(request, reply, ctx);
  }

  async embeddings(request: EmbeddingsRequest, ctx: AttemptContext): Promise<EmbeddingsResponse> {
    await this.#wait(this.#options.latencyMs, ctx.signal);
    ctx.firstByte();
    return mockEmbeddings(request, ctx.upstreamModel);
  }

  async *#chunks(request: ChatRequest, reply: MockReply, ctx: AttemptContext): AsyncGenerator<ChatCompletionChunk> {
    const base = { id: `chatcmpl-${randomUUID()}`, object: 'chat.completion.chunk' as const, created: nowSeconds(), model: ctx.upstreamModel };
    const n = request.n ?? 1;
    const each = (delta: ChatCompletionChunk['choices'][number]['delta'], finish: MockReply['finishReason'] | null = null): ChatCompletionChunk => ({
      ...base,
      choices: Array.from({ length: n }, (_, index) => ({ index, delta, logprobs: null, finish_reason: finish })),
    });
    const pace = this.#options.tokensPerSecond > 0 ? 1000 / this.#options.tokensPerSecond : 0;

    if (reply.toolCalls.length > 0) {
      const call = reply.toolCalls[0]!;
      yield each({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] });
      for (const piece of call.function.arguments.match(/.{1,16}/gs) ?? []) {
        await this.#wait(pace, ctx.signal);
        yield each({ tool_calls: [{ index: 0, function: { arguments: piece } }] });
      }
    } else {
      yield each({ role: 'assistant', content: '' });
      for (const piece of reply.pieces) {
        await this.#wait(pace, ctx.signal);
        yield each({ content: piece });
      }
    }
    yield each({}, reply.finishReason);
    const completion = reply.usage.completion_tokens * n;
    yield { ...base, choices: [], usage: { prompt_tokens: reply.usage.prompt_tokens, completion_tokens: completion, total_tokens: reply.usage.prompt_tokens + completion } };
  }

  #streamTimeMs(reply: MockReply): number {
    return this.#options.tokensPerSecond > 0 ? (reply.pieces.length * 1000) / this.#options.tokensPerSecond : 0;
  }

  /** Waits `ms`, or rejects with the abort reason once the attempt is aborted. */
  #wait(ms: number, signal: CallSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason as unknown);
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal.reason as unknown);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort);
    });
  }
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
