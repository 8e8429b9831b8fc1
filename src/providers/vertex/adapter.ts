/**
 * The adapter for Gemini models on Google Cloud's Vertex AI: the Gemini wire format (the gemini
 * provider's translators, used as they are) at Vertex's URLs,
 * `{base}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent`,
 * `:streamGenerateContent?alt=sse` and `:predict` (text embeddings), authorised with a service
 * account's OAuth 2.0 access token (auth.ts) as `Authorization: Bearer`.
 */
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, EmbeddingsRequest, EmbeddingsResponse } from '../../gateway/types.js';
import type { GeminiResponse } from '../gemini/api.js';
import { embeddingInputs, toEmbeddingsResponse } from '../gemini/embeddings.js';
import { buildGenerateContentRequest } from '../gemini/request.js';
import { parseGeminiJson, toChatCompletion, upstreamHttpError } from '../gemini/response.js';
import { decodeGeminiStream } from '../gemini/stream.js';
import { mergeHeaders } from '../headers.js';
import { sendForText, sendStreaming } from '../transport.js';
import type { AttemptContext, ProviderAdapter } from '../types.js';
import type { HeaderValue } from '../upstream-errors.js';
import type { VertexPredictResponse } from './api.js';
import { CREDENTIAL_KEYS, ServiceAccountTokens, type CredentialsSource } from './auth.js';
import { instancesPerCall, predictRequest, readPredictions } from './embeddings.js';

export interface VertexAdapterOptions {
  id: string;
  project: string;
  /** A region (us-central1), a multi-region (us, eu) or `global`. */
  location: string;
  /** Overrides the location's endpoint (vertexOrigin); without `/v1`. */
  baseUrl?: string;
  credentials: CredentialsSource | undefined;
  /** Overrides the key's token_uri. */
  tokenUrl?: string;
  headers: Record<string, string>;
  /** For tests: the clock the token cache uses. */
  now?: () => number;
}

type Method = 'generateContent' | 'streamGenerateContent' | 'predict';

/** Embedding calls in flight at once for one request (gemini-embedding models take one text per call). */
const EMBEDDING_CONCURRENCY = 8;

/** Vertex AI's endpoint for a location: regional, multi-regional (`us`, `eu`) or global. */
export function vertexOrigin(location: string): string {
  if (location === 'global') return 'https://aiplatform.googleapis.com';
  if (location === 'us' || location === 'eu') return `https://aiplatform.${location}.rep.googleapis.com`;
  return `https://${location}-aiplatform.googleapis.com`;
}

/**
 * The URL of a model method. A plain model name is a Google publisher model; a name with a `/`
 * is a resource of the location as it is (e.g. `endpoints/1234567890` for a tuned model).
 */
export function vertexModelUrl(base: string, project: string, location: string, model: string, method: Method): string {
  const resource = model.includes('/') ? model.split('/').map(encodeURIComponent).join('/') : `publishers/google/models/${encodeURIComponent(model)}`;
  return `${base.replace(/\/+$/, '')}/v1/projects/${encodeURIComponent(project)}/locations/${encodeURIComponent(location)}/${resource}:${method}`;
}

export class VertexAdapter implements ProviderAdapter {
  readonly id: string;
  readonly type = 'vertex';
  readonly #base: string;
  readonly #project: string;
  readonly #location: string;
  readonly #headers: Record<string, string>;
  readonly #tokens: ServiceAccountTokens;

  constructor(options: VertexAdapterOptions) {
    this.id = options.id;
    this.#base = options.baseUrl ?? vertexOrigin(options.location);
    this.#project = options.project;
    this.#location = options.location;
    // Lower-case names, so a configured header cannot go out twice beside authorization.
    this.#headers = { 'content-type': 'application/json' };
    for (const [name, value] of Object.entries(options.headers)) this.#headers[name.toLowerCase()] = value;
    this.#tokens = new ServiceAccountTokens({ provider: options.id, credentials: options.credentials, tokenUrl: options.tokenUrl, now: options.now });
  }

  async chat(request: ChatRequest, ctx: AttemptContext): Promise<ChatCompletion> {
    // Translated before the token is fetched: a request the translator refuses needs no token.
    const body = JSON.stringify(buildGenerateContentRequest(request, ctx.upstreamModel));
    const text = await this.#post(this.#url(ctx.upstreamModel, 'generateContent'), body, ctx);
    return toChatCompletion(parseGeminiJson<GeminiResponse>(text, this.id), ctx.upstreamModel, this.id);
  }

  async chatStream(request: ChatRequest, ctx: AttemptContext): Promise<AsyncIterable<ChatCompletionChunk>> {
    const body = JSON.stringify(buildGenerateContentRequest(request, ctx.upstreamModel));
    const token = await this.#tokens.token(ctx.signal);
    const res = await sendStreaming({
      url: `${this.#url(ctx.upstreamModel, 'streamGenerateContent')}?alt=sse`,
      headers: this.#requestHeaders(token, ctx),
      body,
      signal: ctx.signal,
      onFirstByte: ctx.firstByte,
      provider: this.id,
    });
    if (res.statusCode !== 200) throw this.#httpError(res.statusCode, await res.body.text(), res.headers, token);
    return decodeGeminiStream(res.body, ctx.upstreamModel, this.id);
  }

  async embeddings(request: EmbeddingsRequest, ctx: AttemptContext): Promise<EmbeddingsResponse> {
    const inputs = embeddingInputs(request);
    const model = ctx.upstreamModel;
    const dimensions = typeof request.dimensions === 'number' ? request.dimensions : undefined;
    const size = instancesPerCall(model);
    const batches: string[][] = [];
    for (let i = 0; i < inputs.length; i += size) batches.push(inputs.slice(i, i + size));
    const url = this.#url(model, 'predict');
    const results: { vectors: number[][]; tokens: number | undefined }[] = new Array(batches.length);
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (next < batches.length && !failed) {
        const index = next++;
        const batch = batches[index]!;
        try {
          const text = await this.#post(url, JSON.stringify(predictRequest(batch, dimensions)), ctx);
          results[index] = readPredictions(parseGeminiJson<VertexPredictResponse>(text, this.id), batch.length, this.id);
        } catch (err) {
          failed = true; // the other workers start no further calls
          throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(EMBEDDING_CONCURRENCY, batches.length) }, worker));
    let tokens: number | undefined = 0;
    for (const result of results) tokens = tokens !== undefined && result.tokens !== undefined ? tokens + result.tokens : undefined;
    return toEmbeddingsResponse(request, inputs, results.flatMap((result) => result.vectors), model, tokens);
  }

  #url(model: string, method: Method): string {
    return vertexModelUrl(this.#base, this.#project, this.#location, model, method);
  }

  async #post(url: string, body: string, ctx: AttemptContext): Promise<string> {
    const token = await this.#tokens.token(ctx.signal);
    const res = await sendForText({ url, headers: this.#requestHeaders(token, ctx), body, signal: ctx.signal, onFirstByte: ctx.firstByte, provider: this.id });
    if (res.statusCode < 200 || res.statusCode >= 300) throw this.#httpError(res.statusCode, res.text, res.headers, token);
    return res.text;
  }

  #httpError(status: number, text: string, headers: Record<string, HeaderValue>, token: string): Error {
    // A refused token (revoked, or expired early): the next attempt fetches a new one.
    if (status === 401) this.#tokens.invalidate(token);
    return upstreamHttpError(status, text, headers, this.id, CREDENTIAL_KEYS);
  }

  #requestHeaders(token: string, ctx: AttemptContext): Record<string, string> {
    return mergeHeaders(this.#headers, { authorization: `Bearer ${token}`, 'x-request-id': ctx.requestId });
  }
}
