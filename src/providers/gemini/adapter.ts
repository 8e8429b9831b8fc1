/**
 * The adapter for Google's Gemini API (AI Studio, generativelanguage.googleapis.com/v1beta):
 * `models/{model}:generateContent`, `:streamGenerateContent?alt=sse`, `:embedContent` and
 * `:batchEmbedContents`, with the key in the `x-goog-api-key` header.
 */
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, EmbeddingsRequest, EmbeddingsResponse } from '../../gateway/types.js';
import { mergeHeaders } from '../headers.js';
import { sendForText, sendStreaming } from '../transport.js';
import type { AttemptContext, ProviderAdapter } from '../types.js';
import type { GeminiEmbedResponse, GeminiResponse } from './api.js';
import { MAX_BATCH, embedContentRequest, embeddingInputs, toEmbeddingsResponse, vectorsOf } from './embeddings.js';
import { buildGenerateContentRequest } from './request.js';
import { parseGeminiJson, toChatCompletion, upstreamHttpError } from './response.js';
import { decodeGeminiStream } from './stream.js';

export interface GeminiAdapterOptions {
  id: string;
  baseUrl: string;
  apiKey?: string;
  headers: Record<string, string>;
}

type Method = 'generateContent' | 'streamGenerateContent' | 'embedContent' | 'batchEmbedContents';

export class GeminiAdapter implements ProviderAdapter {
  readonly id: string;
  readonly type = 'gemini';
  readonly #base: string;
  readonly #headers: Record<string, string>;

  constructor(options: GeminiAdapterOptions) {
    this.id = options.id;
    this.#base = options.baseUrl.replace(/\/+$/, '');
    this.#headers = { 'content-type': 'application/json', ...options.headers };
    if (options.apiKey) this.#headers['x-goog-api-key'] = options.apiKey;
  }

  async chat(request: ChatRequest, ctx: AttemptContext): Promise<ChatCompletion> {
    const body = JSON.stringify(buildGenerateContentRequest(request, ctx.upstreamModel));
    const text = await this.#post(this.#url(ctx.upstreamModel, 'generateContent'), body, ctx);
    return toChatCompletion(parseGeminiJson<GeminiResponse>(text, this.id), ctx.upstreamModel, this.id);
  }

  async chatStream(request: ChatRequest, ctx: AttemptContext): Promise<AsyncIterable<ChatCompletionChunk>> {
    const body = JSON.stringify(buildGenerateContentRequest(request, ctx.upstreamModel));
    const res = await sendStreaming({
      url: `${this.#url(ctx.upstreamModel, 'streamGenerateContent')}?alt=sse`,
      headers: this.#requestHeaders(ctx),
      body,
      signal: ctx.signal,
      onFirstByte: ctx.firstByte,
      provider: this.id,
    });
    if (res.statusCode !== 200) throw upstreamHttpError(res.statusCode, await res.body.text(), res.headers, this.id);
    return decodeGeminiStream(res.body, ctx.upstreamModel, this.id);
  }

  async embeddings(request: EmbeddingsRequest, ctx: AttemptContext): Promise<EmbeddingsResponse> {
    const inputs = embeddingInputs(request);
    const model = ctx.upstreamModel;
    const modelPath = modelResource(model);
    const dimensions = typeof request.dimensions === 'number' ? request.dimensions : undefined;
    if (inputs.length === 1) {
      const body = JSON.stringify(embedContentRequest(inputs[0]!, modelPath, dimensions));
      const answer = parseGeminiJson<GeminiEmbedResponse>(await this.#post(this.#url(model, 'embedContent'), body, ctx), this.id);
      return toEmbeddingsResponse(request, inputs, vectorsOf(answer, 1, this.id), model, reportedTokens([answer]));
    }
    const batches: string[][] = [];
    for (let i = 0; i < inputs.length; i += MAX_BATCH) batches.push(inputs.slice(i, i + MAX_BATCH));
    const answers = await Promise.all(
      batches.map(async (batch) => {
        const body = JSON.stringify({ requests: batch.map((text) => embedContentRequest(text, modelPath, dimensions)) });
        return parseGeminiJson<GeminiEmbedResponse>(await this.#post(this.#url(model, 'batchEmbedContents'), body, ctx), this.id);
      }),
    );
    const vectors = answers.flatMap((answer, i) => vectorsOf(answer, batches[i]!.length, this.id));
    return toEmbeddingsResponse(request, inputs, vectors, model, reportedTokens(answers));
  }

  #url(model: string, method: Method): string {
    return `${this.#base}/${modelResource(model)}:${method}`;
  }

  async #post(url: string, body: string, ctx: AttemptContext): Promise<string> {
    const res = await sendForText({ url, headers: this.#requestHeaders(ctx), body, signal: ctx.signal, onFirstByte: ctx.firstByte, provider: this.id });
    if (res.statusCode < 200 || res.statusCode >= 300) throw upstreamHttpError(res.statusCode, res.text, res.headers, this.id);
    return res.text;
  }

  #requestHeaders(ctx: AttemptContext): Record<string, string> {
    return mergeHeaders(this.#headers, { 'x-request-id': ctx.requestId });
  }
}

/** `gemini-2.5-flash` → `models/gemini-2.5-flash`; a full name (`models/…`, `tunedModels/…`) is kept. */
function modelResource(model: string): string {
  return model.includes('/') ? model.split('/').map(encodeURIComponent).join('/') : `models/${encodeURIComponent(model)}`;
}

/** Google's own token count when an answer carried one (sum over batches), else undefined. */
function reportedTokens(answers: GeminiEmbedResponse[]): number | undefined {
  let total = 0;
  for (const answer of answers) {
    const tokens = answer.usageMetadata?.promptTokenCount;
    if (typeof tokens !== 'number') return undefined;
    total += tokens;
  }
  return total;
}
