/**
 * The Amazon Bedrock adapter: chat through the Converse / ConverseStream operations of
 * bedrock-runtime, embeddings through InvokeModel (Titan, Cohere). Every request is signed with
 * SigV4 per attempt (sign.ts); streams are AWS event streams (event-stream.ts).
 */
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, EmbeddingsRequest, EmbeddingsResponse } from '../../gateway/types.js';
import { GatewayError } from '../../gateway/errors.js';
import { mergeHeaders } from '../headers.js';
import { sendForText, sendStreaming, type UpstreamRequest } from '../transport.js';
import type { AttemptContext, ProviderAdapter } from '../types.js';
import type { HeaderValue } from '../upstream-errors.js';
import { encodeEmbedding } from '../embedding-vector.js';
import { buildEmbeddingCalls, embeddingFamily, parseEmbeddingResponse, type EmbeddingCall, type EmbeddingFamily } from './embeddings.js';
import { buildConverseRequest } from './request.js';
import { bedrockHttpError, parseConverseResponse } from './response.js';
import { BedrockSigner, encodePathSegment } from './sign.js';
import { decodeConverseStream } from './stream.js';

export interface BedrockAdapterOptions {
  id: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  /** Overrides https://bedrock-runtime.<region>.amazonaws.com */
  baseUrl?: string;
  defaultMaxTokens?: number;
  headers: Record<string, string>;
}

type Operation = 'converse' | 'converse-stream' | 'invoke';

/** Embedding calls in flight at once for one request (Titan takes one text per call). */
const EMBEDDING_CONCURRENCY = 8;

export class BedrockAdapter implements ProviderAdapter {
  readonly id: string;
  readonly type = 'bedrock';
  readonly #base: string;
  readonly #signer: BedrockSigner | undefined;
  readonly #headers: Record<string, string>;
  readonly #defaultMaxTokens: number | undefined;

  constructor(options: BedrockAdapterOptions) {
    this.id = options.id;
    this.#base = (options.baseUrl ?? `https://bedrock-runtime.${options.region}.amazonaws.com`).replace(/\/+$/, '');
    this.#signer = options.credentials ? new BedrockSigner(options.credentials, options.region) : undefined;
    this.#defaultMaxTokens = options.defaultMaxTokens;
    // Lower-case names: each is signed under its lower-case name and must be sent once.
    this.#headers = {};
    for (const [name, value] of Object.entries(options.headers)) this.#headers[name.toLowerCase()] = value;
  }

  async chat(request: ChatRequest, ctx: AttemptContext): Promise<ChatCompletion> {
    const { body, jsonTool } = buildConverseRequest(request, { defaultMaxTokens: this.#defaultMaxTokens, modelId: ctx.upstreamModel });
    const res = await sendForText(this.#signed('converse', ctx, JSON.stringify(body)));
    if (res.statusCode < 200 || res.statusCode >= 300) throw bedrockHttpError(res.statusCode, res.text, res.headers, this.id);
    return parseConverseResponse(res.text, { provider: this.id, model: ctx.upstreamModel, id: completionId(res.headers, ctx), jsonTool });
  }

  async chatStream(request: ChatRequest, ctx: AttemptContext): Promise<AsyncIterable<ChatCompletionChunk>> {
    const { body, jsonTool } = buildConverseRequest(request, { defaultMaxTokens: this.#defaultMaxTokens, modelId: ctx.upstreamModel });
    const res = await sendStreaming(this.#signed('converse-stream', ctx, JSON.stringify(body)));
    if (res.statusCode !== 200) throw bedrockHttpError(res.statusCode, await res.body.text(), res.headers, this.id);
    return decodeConverseStream(res.body, { provider: this.id, model: ctx.upstreamModel, id: completionId(res.headers, ctx), jsonTool });
  }

  async embeddings(request: EmbeddingsRequest, ctx: AttemptContext): Promise<EmbeddingsResponse> {
    const model = ctx.upstreamModel;
    const calls = buildEmbeddingCalls(request, model);
    const family = embeddingFamily(model) as EmbeddingFamily;
    const data: EmbeddingsResponse['data'] = [];
    let tokens = 0;
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (next < calls.length && !failed) {
        const call = calls[next++]!;
        try {
          const result = await this.#invoke(call, family, ctx);
          tokens += result.tokens;
          result.vectors.forEach((vector, i) => {
            data[call.offset + i] = { object: 'embedding', index: call.offset + i, embedding: encodeEmbedding(vector, request.encoding_format) };
          });
        } catch (err) {
          failed = true; // the other workers start no further calls
          throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(EMBEDDING_CONCURRENCY, calls.length) }, worker));
    return { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } };
  }

  async #invoke(call: EmbeddingCall, family: EmbeddingFamily, ctx: AttemptContext): Promise<{ vectors: number[][]; tokens: number }> {
    const res = await sendForText(this.#signed('invoke', ctx, call.body));
    if (res.statusCode < 200 || res.statusCode >= 300) throw bedrockHttpError(res.statusCode, res.text, res.headers, this.id);
    return parseEmbeddingResponse(res.text, call, family, res.headers, this.id);
  }

  /** The request for one attempt, signed now (a retry signs again: the signature is timestamped). */
  #signed(operation: Operation, ctx: AttemptContext, body: string): UpstreamRequest {
    if (!this.#signer) {
      throw new GatewayError(
        'upstream_error',
        `The Bedrock provider "${this.id}" has no AWS credentials: set access_key_id and secret_access_key in its configuration, or the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables.`,
        { provider: this.id },
      );
    }
    const url = `${this.#base}/model/${encodePathSegment(ctx.upstreamModel)}/${operation}`;
    // Only content-type besides the signature headers, as the AWS SDKs send these operations.
    const headers = this.#signer.sign({ method: 'POST', url, headers: mergeHeaders(this.#headers, { 'content-type': 'application/json' }), body });
    return { url, method: 'POST', headers, body, signal: ctx.signal, onFirstByte: ctx.firstByte, provider: this.id };
  }
}

/** Bedrock answers carry no completion id; its request id makes one that can be traced in AWS. */
function completionId(headers: Record<string, HeaderValue>, ctx: AttemptContext): string {
  const requestId = headers['x-amzn-requestid'];
  const value = Array.isArray(requestId) ? requestId[0] : requestId;
  return `chatcmpl-${value || ctx.requestId}`;
}
